{{/*
Render guards: conflicting or removed values fail the render with a message that says what to do.
Called once from templates/validate.yaml.
*/}}
{{- define "bazaar.validateValues" -}}
{{- $v := .Values -}}

{{- /* Removed values (kept in the schema only so this message, not a schema error, explains them). */}}
{{- if hasKey $v "worker" -}}
{{- fail "`worker` was removed: declare Celery pools in the `workers` list (name, queues, concurrency, autoscaling)." -}}
{{- end -}}
{{- if hasKey $v.web "replicaCount" -}}
{{- fail "`web.replicaCount` was removed: use `web.replicas` (ignored while web.autoscaling.enabled)." -}}
{{- end -}}

{{- /* Postgres: exactly one source. */}}
{{- $pgSources := 0 -}}
{{- if $v.postgresql.bundled.enabled }}{{ $pgSources = add1 $pgSources }}{{ end -}}
{{- if $v.postgresql.cnpg.enabled }}{{ $pgSources = add1 $pgSources }}{{ end -}}
{{- if $v.postgresql.external.host }}{{ $pgSources = add1 $pgSources }}{{ end -}}
{{- if gt $pgSources 1 -}}
{{- fail "Postgres is configured more than once: choose one of postgresql.bundled.enabled, postgresql.cnpg.enabled or postgresql.external.host." -}}
{{- end -}}
{{- if eq $pgSources 0 -}}
{{- fail "No Postgres: set postgresql.external.host (managed service), or enable postgresql.bundled (dev/CI) or postgresql.cnpg (CloudNativePG)." -}}
{{- end -}}
{{- if and $v.postgresql.external.password $v.postgresql.external.existingSecret -}}
{{- fail "postgresql.external.password and postgresql.external.existingSecret are both set: keep one." -}}
{{- end -}}

{{- /* Read replica: a source that has one, and the PgBouncer read pool in front of it. */}}
{{- $replica := $v.postgresql.readReplica -}}
{{- if $replica.enabled -}}
{{- if $v.postgresql.bundled.enabled -}}
{{- fail "postgresql.readReplica.enabled needs a Postgres with a replica: the bundled StatefulSet is a single server. Use postgresql.cnpg (its -ro Service) or an external primary with readReplica.host." -}}
{{- end -}}
{{- if and $v.postgresql.cnpg.enabled $replica.host -}}
{{- fail "postgresql.readReplica.host is set with postgresql.cnpg: the read pool uses the cluster's -ro Service. Leave readReplica.host empty." -}}
{{- end -}}
{{- if and $v.postgresql.cnpg.enabled (lt (int $v.postgresql.cnpg.instances) 2) -}}
{{- fail (printf "postgresql.readReplica.enabled needs postgresql.cnpg.instances of 2 or more (it is %d): with one instance the -ro Service has no endpoint." (int $v.postgresql.cnpg.instances)) -}}
{{- end -}}
{{- if and $v.postgresql.external.host (not $replica.host) -}}
{{- fail "postgresql.readReplica.enabled with an external Postgres needs postgresql.readReplica.host (the replica's endpoint)." -}}
{{- end -}}
{{- if not $v.pgbouncer.enabled -}}
{{- fail "postgresql.readReplica.enabled needs pgbouncer.enabled: replica reads go through the PgBouncer read pool, whose query_wait_timeout bounds how long a read waits for a replica that is down." -}}
{{- end -}}
{{- end -}}

{{- /* Redis: exactly one source. */}}
{{- if and $v.redis.bundled.enabled $v.redis.external.host -}}
{{- fail "Redis is configured twice: choose redis.bundled.enabled or redis.external.host." -}}
{{- end -}}
{{- if not (or $v.redis.bundled.enabled $v.redis.external.host) -}}
{{- fail "No Redis: set redis.external.host (managed service) or enable redis.bundled (dev/CI)." -}}
{{- end -}}
{{- if and $v.redis.external.password $v.redis.external.existingSecret -}}
{{- fail "redis.external.password and redis.external.existingSecret are both set: keep one." -}}
{{- end -}}

{{- /* Secrets: one holder. */}}
{{- if and $v.secrets.existingSecret $v.secrets.externalSecret.enabled -}}
{{- fail "secrets.existingSecret and secrets.externalSecret.enabled are both set: the app reads one Secret." -}}
{{- end -}}
{{- if and $v.secrets.externalSecret.enabled (not $v.secrets.externalSecret.secretStoreRef.name) -}}
{{- fail "secrets.externalSecret.enabled needs secrets.externalSecret.secretStoreRef.name." -}}
{{- end -}}
{{- if and $v.secrets.externalSecret.enabled (not (hasKey $v.secrets.externalSecret.remoteKeys "SECRET_KEY")) -}}
{{- fail "secrets.externalSecret.remoteKeys must map at least SECRET_KEY." -}}
{{- end -}}

{{- /* Beat is a singleton: two schedulers send every periodic task twice. */}}
{{- if and $v.beat.enabled (gt (int $v.beat.replicas) 1) -}}
{{- fail (printf "beat.replicas is %d: Celery beat must run exactly once (two schedulers enqueue every periodic task twice). Set beat.replicas to 1." (int $v.beat.replicas)) -}}
{{- end -}}

{{- /* Web drains before it is killed. */}}
{{- $drain := add $v.web.preStopSleepSeconds $v.web.gracefulTimeoutSeconds -}}
{{- if le (int $v.web.terminationGracePeriodSeconds) (int $drain) -}}
{{- fail (printf "web.terminationGracePeriodSeconds (%d) must exceed web.preStopSleepSeconds + web.gracefulTimeoutSeconds (%d), or in-flight requests are killed." (int $v.web.terminationGracePeriodSeconds) (int $drain)) -}}
{{- end -}}

{{- /* Web slices: names from files/web-slices.yaml, each once, all or none. */}}
{{- $catalogue := .Files.Get "files/web-slices.yaml" | fromYaml -}}
{{- $known := list -}}
{{- range $catalogue.slices }}{{ $known = append $known .name }}{{ end -}}
{{- $listed := list -}}
{{- range $slice := $v.web.slices -}}
{{- if not (has $slice.name $known) -}}
{{- fail (printf "web.slices: %q is not a web slice; the slices are %s (files/web-slices.yaml)." $slice.name (join ", " $known)) -}}
{{- end -}}
{{- if has $slice.name $listed -}}
{{- fail (printf "web.slices: the slice %q is listed twice; each slice is one Deployment." $slice.name) -}}
{{- end -}}
{{- $listed = append $listed $slice.name -}}
{{- end -}}
{{- $missing := list -}}
{{- range $known }}{{ if not (has . $listed) }}{{ $missing = append $missing . }}{{ end }}{{ end -}}
{{- if and $listed $missing -}}
{{- fail (printf "web.slices must list every slice or none: %s missing. A slice serves only its own paths, so an unlisted slice's paths would reach no pod." (join ", " $missing)) -}}
{{- end -}}
{{- range $unit := (include "bazaar.webUnits" . | fromYaml).units -}}
{{- $where := ternary (printf "web.slices[%s]" $unit.slice) "web" (ne $unit.slice "") -}}
{{- $scaling := $unit.values.autoscaling -}}
{{- if and $scaling.enabled (gt (int $scaling.minReplicas) (int $scaling.maxReplicas)) -}}
{{- fail (printf "%s: autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)." $where (int $scaling.minReplicas) (int $scaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- range $slice := $v.web.slices -}}
{{- $scaling := mergeOverwrite (deepCopy $v.web.autoscaling) ($slice.autoscaling | default dict) -}}
{{- if and (hasKey $slice "replicas") $scaling.enabled -}}
{{- fail (printf "web.slices[%s]: replicas is set but the slice is autoscaled (web.autoscaling.enabled, or its own autoscaling.enabled); the HPA would override it. Set autoscaling.enabled: false on the slice, or drop replicas." $slice.name) -}}
{{- end -}}
{{- end -}}

{{- /* Worker pools. */}}
{{- $seen := dict -}}
{{- range $poolValues := $v.workers -}}
{{- $pool := include "bazaar.workerPool" (list $ $poolValues) | fromYaml -}}
{{- if hasKey $seen $pool.name -}}
{{- fail (printf "workers: the pool name %q is used twice; each pool becomes its own Deployment." $pool.name) -}}
{{- end -}}
{{- $_ := set $seen $pool.name true -}}
{{- if and $pool.autoscaling.hpa.enabled $pool.autoscaling.keda.enabled -}}
{{- fail (printf "workers[%s]: autoscaling.hpa and autoscaling.keda are both enabled; one pool can have one autoscaler (KEDA creates its own HPA). Disable one." $pool.name) -}}
{{- end -}}
{{- if and $pool.autoscaling.keda.enabled (not $v.keda.enabled) -}}
{{- fail (printf "workers[%s]: autoscaling.keda.enabled needs keda.enabled (KEDA installed in the cluster)." $pool.name) -}}
{{- end -}}
{{- end -}}

{{- end -}}
