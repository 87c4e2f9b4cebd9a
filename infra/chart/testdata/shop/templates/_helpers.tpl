{{- define "shop.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "shop.image" -}}
{{ .Values.image.repository }}:{{ required "image.tag is required: the release sets it" .Values.image.tag }}
{{- end -}}
