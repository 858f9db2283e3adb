{{/*
checkov skips, each naming its check and why the chart chooses otherwise. Rendered as
checkov.io/skipN annotations on the workload. Call with (list "bazaar"|"upstream" extraSkips).
*/}}
{{- define "bazaar.checkovSkips" -}}
{{- $common := list
  "CKV_K8S_11=no CPU limit on purpose: CFS throttling adds tail latency; CPU requests drive scheduling and the HPA"
  "CKV_K8S_15=tags are immutable releases (or image.digest pins them); IfNotPresent spares a registry round trip per pod start"
  "CKV_K8S_35=twelve-factor settings come from the environment (docs/runtime-contract.md); Secrets are referenced by key, never inlined"
-}}
{{- $byImage := dict
  "bazaar" (list "CKV_K8S_43=set image.digest to pin by digest; the default is the chart appVersion tag")
  "upstream" (list
    "CKV_K8S_43=upstream image pinned by tag; set its tag to a digest-qualified one to pin further"
    "CKV_K8S_40=the upstream image's own fixed user owns its data directories")
-}}
{{- range $i, $skip := concat $common (get $byImage (index . 0)) (index . 1) }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end }}
{{- end -}}
