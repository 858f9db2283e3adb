{{/* Names and labels (Bitnami conventions). */}}
{{- define "bazaar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bazaar.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's object name: <fullname>-<component>. Call with (list $ "web"). */}}
{{- define "bazaar.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "bazaar.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bazaar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "bazaar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bazaar
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component. Call with (list $ "web"). */}}
{{- define "bazaar.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "bazaar.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Full labels of one component's objects and pods. Call with (list $ "web"). */}}
{{- define "bazaar.componentLabels" -}}
{{ include "bazaar.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Worker pods carry their pool name so each pool's Service, PDB and autoscaler selects only it. */}}
{{- define "bazaar.workerSelectorLabels" -}}
{{ include "bazaar.selectorLabels" (list (index . 0) "worker") }}
bazaar.dev/worker-pool: {{ index . 1 }}
{{- end -}}

{{/* Full labels of one pool's objects and pods. Call with (list $ poolName). */}}
{{- define "bazaar.workerLabels" -}}
{{ include "bazaar.componentLabels" (list (index . 0) "worker") }}
bazaar.dev/worker-pool: {{ index . 1 }}
{{- end -}}

{{/*
Web pods carry their slice, when sliced, so each slice's Service, PDB and HPA selects only it.
Call with (list $ sliceName); "" is the web that serves every path.
*/}}
{{- define "bazaar.webSelectorLabels" -}}
{{ include "bazaar.selectorLabels" (list (index . 0) "web") }}
{{- with index . 1 }}
bazaar.dev/web-slice: {{ . }}
{{- end }}
{{- end -}}

{{/* Full labels of one web Deployment's objects and pods. Call with (list $ sliceName). */}}
{{- define "bazaar.webLabels" -}}
{{ include "bazaar.componentLabels" (list (index . 0) "web") }}
{{- with index . 1 }}
bazaar.dev/web-slice: {{ . }}
{{- end }}
{{- end -}}

{{/*
The web Deployments as YAML {units: [...]} (use fromYaml): the one web serving every path, or
one per web.slices entry merged over web.* (maps merge, lists are replaced). Each unit has
component (web or web-NAME, the object-name suffix), slice (NAME or ""), prefixes (the paths
files/web-slices.yaml gives the slice), default (true on the unit unclaimed paths are routed to)
and values. Every web template ranges over these, so a slice cannot drift from web.
*/}}
{{- define "bazaar.webUnits" -}}
{{- $web := omit .Values.web "slices" -}}
{{- $catalogue := .Files.Get "files/web-slices.yaml" | fromYaml -}}
{{- $units := list -}}
{{- range $slice := .Values.web.slices -}}
{{- $prefixes := list -}}
{{- range $catalogue.slices -}}
{{- if eq .name $slice.name }}{{ $prefixes = .prefixes }}{{ end -}}
{{- end -}}
{{- $values := mergeOverwrite (deepCopy $web) (omit $slice "name") -}}
{{- $units = append $units (dict "component" (printf "web-%s" $slice.name) "slice" $slice.name "prefixes" $prefixes "default" (eq $slice.name $catalogue.default) "values" $values) -}}
{{- else -}}
{{- $units = list (dict "component" "web" "slice" "" "prefixes" (list) "default" true "values" $web) -}}
{{- end -}}
{{- toYaml (dict "units" $units) -}}
{{- end -}}

{{- define "bazaar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bazaar.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "bazaar.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret the chart holds credentials in (generated dev passwords, inline values). */}}
{{- define "bazaar.chartSecretName" -}}
{{- include "bazaar.fullname" . -}}
{{- end -}}

{{/* The Secret holding SECRET_KEY and the other application credentials. */}}
{{- define "bazaar.appSecretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.externalSecret.enabled -}}
{{- include "bazaar.componentName" (list . "app") -}}
{{- else -}}
{{- include "bazaar.chartSecretName" . -}}
{{- end -}}
{{- end -}}

{{/* Postgres connection: one place decides between bundled, CloudNativePG and external. */}}
{{- define "bazaar.postgresql.host" -}}
{{- if .Values.postgresql.bundled.enabled -}}
{{- include "bazaar.componentName" (list . "postgresql") -}}
{{- else if .Values.postgresql.cnpg.enabled -}}
{{- printf "%s-rw" (include "bazaar.componentName" (list . "pg")) -}}
{{- else -}}
{{- .Values.postgresql.external.host -}}
{{- end -}}
{{- end -}}

{{- define "bazaar.postgresql.port" -}}
{{- if or .Values.postgresql.bundled.enabled .Values.postgresql.cnpg.enabled -}}5432{{- else -}}{{ .Values.postgresql.external.port }}{{- end -}}
{{- end -}}

{{- define "bazaar.postgresql.database" -}}
{{- if .Values.postgresql.bundled.enabled -}}{{ .Values.postgresql.bundled.database }}
{{- else if .Values.postgresql.cnpg.enabled -}}{{ .Values.postgresql.cnpg.database }}
{{- else -}}{{ .Values.postgresql.external.database }}{{- end -}}
{{- end -}}

{{- define "bazaar.postgresql.username" -}}
{{- if .Values.postgresql.bundled.enabled -}}{{ .Values.postgresql.bundled.username }}
{{- else if .Values.postgresql.cnpg.enabled -}}{{ .Values.postgresql.cnpg.owner }}
{{- else -}}{{ .Values.postgresql.external.username }}{{- end -}}
{{- end -}}

{{- define "bazaar.postgresql.sslmode" -}}
{{- if or .Values.postgresql.bundled.enabled .Values.postgresql.cnpg.enabled -}}prefer{{- else -}}{{ .Values.postgresql.external.sslmode }}{{- end -}}
{{- end -}}

{{/* The in-chart servers (bundled StatefulSet or CloudNativePG) run in this namespace. */}}
{{- define "bazaar.postgresql.inCluster" -}}
{{- if or .Values.postgresql.bundled.enabled .Values.postgresql.cnpg.enabled -}}true{{- end -}}
{{- end -}}

{{/* secretKeyRef of the database password. CloudNativePG generates its own app Secret. */}}
{{- define "bazaar.postgresql.passwordSecretRef" -}}
{{- if .Values.postgresql.cnpg.enabled -}}
name: {{ printf "%s-app" (include "bazaar.componentName" (list . "pg")) }}
key: password
{{- else if and (not .Values.postgresql.bundled.enabled) .Values.postgresql.external.existingSecret -}}
name: {{ .Values.postgresql.external.existingSecret }}
key: {{ .Values.postgresql.external.existingSecretPasswordKey }}
{{- else -}}
name: {{ include "bazaar.chartSecretName" . }}
key: postgresql-password
{{- end -}}
{{- end -}}

{{- define "bazaar.redis.host" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- include "bazaar.componentName" (list . "redis") -}}
{{- else -}}
{{- .Values.redis.external.host -}}
{{- end -}}
{{- end -}}

{{- define "bazaar.redis.port" -}}
{{- if .Values.redis.bundled.enabled -}}6379{{- else -}}{{ .Values.redis.external.port }}{{- end -}}
{{- end -}}

{{- define "bazaar.redis.database" -}}
{{- if .Values.redis.bundled.enabled -}}0{{- else -}}{{ .Values.redis.external.database }}{{- end -}}
{{- end -}}

{{- define "bazaar.redis.tls" -}}
{{- if and (not .Values.redis.bundled.enabled) .Values.redis.external.tls -}}true{{- end -}}
{{- end -}}

{{- define "bazaar.redis.hasPassword" -}}
{{- if or .Values.redis.bundled.enabled .Values.redis.external.password .Values.redis.external.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "bazaar.redis.passwordSecretRef" -}}
{{- if and (not .Values.redis.bundled.enabled) .Values.redis.external.existingSecret -}}
name: {{ .Values.redis.external.existingSecret }}
key: {{ .Values.redis.external.existingSecretPasswordKey }}
{{- else -}}
name: {{ include "bazaar.chartSecretName" . }}
key: redis-password
{{- end -}}
{{- end -}}

{{- define "bazaar.pgbouncer.host" -}}
{{- include "bazaar.componentName" (list . "pgbouncer") -}}
{{- end -}}

{{/*
The read replica (postgresql.readReplica): CloudNativePG's -ro Service (its hot standbys), or an
external replica's host.
*/}}
{{- define "bazaar.postgresql.replicaHost" -}}
{{- if .Values.postgresql.cnpg.enabled -}}
{{- printf "%s-ro" (include "bazaar.componentName" (list . "pg")) -}}
{{- else -}}
{{- .Values.postgresql.readReplica.host -}}
{{- end -}}
{{- end -}}

{{- define "bazaar.postgresql.replicaPort" -}}
{{- if .Values.postgresql.cnpg.enabled -}}5432{{- else -}}{{ .Values.postgresql.readReplica.port }}{{- end -}}
{{- end -}}

{{/*
PgBouncer Deployments, as a YAML list (use fromYamlArray): the primary's pool and, with
postgresql.readReplica, the read pool in front of the replica, whose values are pgbouncer's with
pgbouncer.readPool over them. Each: component (names and labels), role (primary or replica),
server host and port, values. Every pgbouncer/ template renders its object once per pool.
*/}}
{{- define "bazaar.pgbouncer.pools" -}}
{{- $pools := list -}}
{{- if .Values.pgbouncer.enabled -}}
{{- $primary := omit .Values.pgbouncer "readPool" -}}
{{- $pools = append $pools (dict "component" "pgbouncer" "role" "primary" "host" (include "bazaar.postgresql.host" .) "port" (include "bazaar.postgresql.port" .) "values" $primary) -}}
{{- if .Values.postgresql.readReplica.enabled -}}
{{- $read := mergeOverwrite (deepCopy $primary) (deepCopy .Values.pgbouncer.readPool) -}}
{{- $pools = append $pools (dict "component" "pgbouncer-read" "role" "replica" "host" (include "bazaar.postgresql.replicaHost" .) "port" (include "bazaar.postgresql.replicaPort" .) "values" $read) -}}
{{- end -}}
{{- end -}}
{{- toYaml $pools -}}
{{- end -}}

{{/*
One pool's ConfigMap. Call with (list $ pool). A helper, so that each pool's pods roll on a
checksum of their own configuration only.
*/}}
{{- define "bazaar.pgbouncer.configMap" -}}
{{- $root := index . 0 -}}
{{- $pool := index . 1 -}}
{{- $pgb := $pool.values -}}
{{- $db := include "bazaar.postgresql.database" $root -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bazaar.componentName" (list $root $pool.component) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bazaar.componentLabels" (list $root $pool.component) | nindent 4 }}
data:
  pgbouncer.ini: |
    [databases]
    {{ $db }} = host={{ $pool.host }} port={{ $pool.port }} dbname={{ $db }}

    [pgbouncer]
    listen_addr = 0.0.0.0
    listen_port = 6432
    unix_socket_dir =
    pidfile =
    ; Transaction pooling: the app runs with DATABASE_POOLER=pgbouncer (no prepared statements,
    ; no server-side cursors, no session state), so any server connection serves any transaction.
    pool_mode = transaction
    auth_type = scram-sha-256
    auth_file = /etc/pgbouncer-auth/userlist.txt
    stats_users = {{ include "bazaar.postgresql.username" $root }}
    max_client_conn = {{ $pgb.maxClientConnections }}
    default_pool_size = {{ $pgb.defaultPoolSize }}
    min_pool_size = {{ $pgb.minPoolSize }}
    reserve_pool_size = {{ $pgb.reservePoolSize }}
    server_idle_timeout = {{ $pgb.serverIdleTimeout }}
    server_login_retry = {{ $pgb.serverLoginRetry }}
    server_tls_sslmode = {{ include "bazaar.postgresql.sslmode" $root }}
    ignore_startup_parameters = extra_float_digits,options
    log_connections = 0
    log_disconnections = 0
    {{- with $pgb.queryWaitTimeout }}
    ; A read waits this long for a replica server connection, then fails and the app reads the
    ; primary instead: a replica that is down costs a read this, not PgBouncer's 120 s.
    query_wait_timeout = {{ . }}
    {{- end }}
{{- end -}}

{{/*
Environment of every Bazaar container (docs/runtime-contract.md). Call with (dict "root" $), and
add "directViaPooler" true for containers that must reach Postgres only through PgBouncer.
Passwords come from Secrets and are spliced into the URLs by the kubelet ($(VAR) expansion), so
no URL with a password is ever stored. Generated passwords are URL-safe; external ones must be.
*/}}
{{- define "bazaar.env" -}}
{{- $root := .root -}}
{{- with .root -}}
{{- $pgHost := include "bazaar.postgresql.host" . -}}
{{- $pgPort := include "bazaar.postgresql.port" . -}}
{{- $pgDb := include "bazaar.postgresql.database" . -}}
{{- $pgUser := include "bazaar.postgresql.username" . -}}
{{- $sslmode := include "bazaar.postgresql.sslmode" . -}}
{{- $redisScheme := ternary "rediss" "redis" (eq (include "bazaar.redis.tls" .) "true") -}}
{{- $redisAuth := ternary ":$(REDIS_PASSWORD)@" "" (eq (include "bazaar.redis.hasPassword" .) "true") -}}
- name: DJANGO_SETTINGS_MODULE
  value: {{ .Values.config.settingsModule | quote }}
- name: ALLOWED_HOSTS
  value: {{ join "," .Values.config.allowedHosts | quote }}
- name: CSRF_TRUSTED_ORIGINS
  value: {{ join "," .Values.config.csrfTrustedOrigins | quote }}
- name: LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: CACHE_SOCKET_TIMEOUT
  value: {{ .Values.config.cacheSocketTimeout | quote }}
- name: DEFAULT_FROM_EMAIL
  value: {{ .Values.config.defaultFromEmail | quote }}
- name: PAYMENT_PROVIDER_URL
  value: {{ .Values.config.paymentProviderUrl | quote }}
- name: SENTRY_ENVIRONMENT
  value: {{ default .Release.Namespace .Values.config.sentry.environment | quote }}
- name: SENTRY_TRACES_SAMPLE_RATE
  value: {{ .Values.config.sentry.tracesSampleRate | quote }}
- name: METRICS_PORT
  value: "9808"
- name: SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "bazaar.appSecretName" . }}
      key: SECRET_KEY
{{- range list "PAYMENT_PROVIDER_API_KEY" "PAYMENT_WEBHOOK_SECRET" "SENTRY_DSN" "EMAIL_URL" }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "bazaar.appSecretName" $root }}
      key: {{ . }}
      optional: true
{{- end }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "bazaar.postgresql.passwordSecretRef" . | nindent 6 }}
{{- $directUrl := printf "postgres://%s:$(DATABASE_PASSWORD)@%s:%s/%s?sslmode=%s" $pgUser $pgHost $pgPort $pgDb $sslmode -}}
{{- $pooledUrl := printf "postgres://%s:$(DATABASE_PASSWORD)@%s:6432/%s" $pgUser (include "bazaar.pgbouncer.host" .) $pgDb -}}
{{- if .Values.pgbouncer.enabled }}
- name: DATABASE_URL
  value: {{ $pooledUrl | quote }}
- name: DATABASE_DIRECT_URL
  value: {{ ternary $pooledUrl $directUrl (default false $.directViaPooler) | quote }}
- name: DATABASE_POOLER
  value: pgbouncer
{{- if .Values.postgresql.readReplica.enabled }}
- name: DATABASE_REPLICA_URL
  value: {{ printf "postgres://%s:$(DATABASE_PASSWORD)@%s:6432/%s" $pgUser (include "bazaar.componentName" (list . "pgbouncer-read")) $pgDb | quote }}
{{- end }}
{{- else }}
- name: DATABASE_URL
  value: {{ $directUrl | quote }}
- name: DATABASE_DIRECT_URL
  value: {{ $directUrl | quote }}
- name: DATABASE_POOLER
  value: none
{{- end }}
{{- if eq (include "bazaar.redis.hasPassword" .) "true" }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "bazaar.redis.passwordSecretRef" . | nindent 6 }}
{{- end }}
- name: REDIS_URL
  value: {{ printf "%s://%s%s:%s/%s" $redisScheme $redisAuth (include "bazaar.redis.host" .) (include "bazaar.redis.port" .) (include "bazaar.redis.database" .) | quote }}
- name: CELERY_BROKER_URL
  value: $(REDIS_URL)
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Init container that holds a pod until the schema matches its code, so nothing runs new code on an
old schema. It reads django_migrations through the app's own path (PgBouncer when on), which keeps
app pods' egress to the pooler only.
*/}}
{{- define "bazaar.waitForMigrations" -}}
{{- if .Values.migrations.enabled }}
- name: wait-for-migrations
  image: {{ include "bazaar.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["bazaar"]
  args: ["migrate", "--check", "--wait", "--timeout", {{ .Values.migrations.timeoutSeconds | quote }}]
  env:
    {{- include "bazaar.env" (dict "root" . "directViaPooler" true) | nindent 4 }}
  securityContext:
    {{- include "bazaar.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}
{{- end -}}

{{- define "bazaar.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "bazaar.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}

{{/* Pod-level fields every Bazaar pod shares. */}}
{{- define "bazaar.podCommon" -}}
serviceAccountName: {{ include "bazaar.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
enableServiceLinks: false
securityContext:
  {{- include "bazaar.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- /*
Rolls a pod when the credentials it gets change: a checksum of their inputs in the values, not of
the rendered Secret. Values the chart generates are random at install and read back by lookup at
upgrade, so a checksum of the Secret changed on the first upgrade and restarted every pod, the
databases among them, for nothing.
*/ -}}
{{- define "bazaar.checksumAnnotations" -}}
checksum/secret: {{ dict "secrets" .Values.secrets "postgresql" (list .Values.postgresql.bundled.password .Values.postgresql.external.password) "redis" (list .Values.redis.bundled.password .Values.redis.external.password) | toJson | sha256sum }}
{{- end -}}

{{/* Soft spread over zones and hosts. Call with (list $ selectorLabelsYaml). */}}
{{- define "bazaar.topologySpread" -}}
{{- $labels := index . 1 -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- $labels | nindent 8 }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- $labels | nindent 8 }}
{{- end -}}

{{/* Scheduling knobs of one component's values. Call with a values map. */}}
{{- define "bazaar.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* One worker pool merged over workerDefaults, as YAML (use fromYaml). Call with (list $ pool). */}}
{{- define "bazaar.workerPool" -}}
{{- $root := index . 0 -}}
{{- $pool := index . 1 -}}
{{- toYaml (mergeOverwrite (deepCopy $root.Values.workerDefaults) (deepCopy $pool)) -}}
{{- end -}}
