{{/*
NetworkPolicy building blocks. Every pod of the release is selected by a policy that lists
exactly the peers it needs; whatever is not listed is denied.
*/}}

{{- define "bazaar.netpol.dnsEgress" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dnsNamespaceSelector | nindent 8 }}
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}

{{/* Straight to the Postgres server (bundled, CloudNativePG or external). */}}
{{- define "bazaar.netpol.postgresEgress" -}}
{{- if .Values.postgresql.bundled.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "bazaar.selectorLabels" (list . "postgresql") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else if .Values.postgresql.cnpg.enabled }}
- to:
    - podSelector:
        matchLabels:
          cnpg.io/cluster: {{ include "bazaar.componentName" (list . "pg") }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else }}
- to:
    {{- range .Values.networkPolicy.egress.externalDatabaseCidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.postgresql.external.port }}}
{{- end }}
{{- end -}}

{{/* The read replica (postgresql.readReplica), for its PgBouncer read pool. */}}
{{- define "bazaar.netpol.replicaEgress" -}}
{{- if .Values.postgresql.cnpg.enabled }}
- to:
    - podSelector:
        matchLabels:
          cnpg.io/cluster: {{ include "bazaar.componentName" (list . "pg") }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else }}
- to:
    {{- range .Values.networkPolicy.egress.externalDatabaseCidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.postgresql.readReplica.port }}}
{{- end }}
{{- end -}}

{{/* The app's database path: PgBouncer (and its read pool) when it is on, else the server. */}}
{{- define "bazaar.netpol.appDatabaseEgress" -}}
{{- if .Values.pgbouncer.enabled }}
{{- range $pool := include "bazaar.pgbouncer.pools" . | fromYamlArray }}
- to:
    - podSelector:
        matchLabels:
          {{- include "bazaar.selectorLabels" (list $ $pool.component) | nindent 10 }}
  ports:
    - {protocol: TCP, port: 6432}
{{- end }}
{{- else }}
{{- include "bazaar.netpol.postgresEgress" . }}
{{- end }}
{{- end -}}

{{- define "bazaar.netpol.redisEgress" -}}
{{- if .Values.redis.bundled.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "bazaar.selectorLabels" (list . "redis") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 6379}
{{- else }}
- to:
    {{- range .Values.networkPolicy.egress.externalRedisCidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.redis.external.port }}}
{{- end }}
{{- end -}}

{{/* Outbound calls of web and workers: the payment provider and the mail relay. */}}
{{- define "bazaar.netpol.providersEgress" -}}
{{- range $peer := list .Values.networkPolicy.egress.paymentProvider .Values.networkPolicy.egress.smtp }}
{{- if and $peer.cidrs $peer.ports }}
- to:
    {{- range $peer.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range $peer.ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Prometheus scraping a metrics port. Call with (list $ port). */}}
{{- define "bazaar.netpol.metricsIngress" -}}
{{- $root := index . 0 -}}
- from:
    - namespaceSelector:
        {{- toYaml $root.Values.networkPolicy.metricsNamespaceSelector | nindent 8 }}
  ports:
    - {protocol: TCP, port: {{ index . 1 }}}
{{- end -}}

{{/* Pods that run Bazaar code and so reach the database path and Redis. */}}
{{- define "bazaar.netpol.appPodsSelector" -}}
podSelector:
  matchLabels:
    app.kubernetes.io/instance: {{ .Release.Name }}
    app.kubernetes.io/name: {{ include "bazaar.name" . }}
  matchExpressions:
    - key: app.kubernetes.io/component
      operator: In
      values: [web, worker, beat, exporter, migrate, test]
{{- end -}}

{{/* A policy header. Call with (list $ "web" selectorLabelsYaml). */}}
{{- define "bazaar.netpol.header" -}}
{{- $root := index . 0 -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "bazaar.componentName" (list $root (index . 1)) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "bazaar.labels" $root | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- index . 2 | nindent 6 }}
  policyTypes: [Ingress, Egress]
{{- end -}}
