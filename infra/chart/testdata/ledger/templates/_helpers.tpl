{{/* The pod annotation that makes a kwok pod complete after .Values.hookDuration. */}}
{{- define "ledger.hookPod" -}}
pod-complete.stage.kwok.x-k8s.io/delay: {{ .Values.hookDuration | quote }}
{{- end }}

{{/*
The database password, base64: the one the cluster's Secret holds (lookup), else,
on the first install, a generated one.
*/}}
{{- define "ledger.password" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (printf "%s-db" .Release.Name) -}}
{{- if and $existing $existing.data -}}
{{- index $existing.data "password" -}}
{{- else -}}
{{- randAlphaNum 24 | b64enc -}}
{{- end -}}
{{- end }}
