{{/* Labels shared by every object of the release. */}}
{{- define "kiln.labels" -}}
app.kubernetes.io/part-of: kiln
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The frontend address the workers use. */}}
{{- define "kiln.address" -}}
{{- if .Values.temporal.address -}}
{{ .Values.temporal.address }}
{{- else -}}
{{ printf "%s-dev.%s.svc.cluster.local:7233" .Release.Name .Release.Namespace }}
{{- end -}}
{{- end -}}
