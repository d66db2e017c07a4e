{{- define "ambit-cni.name" -}}ambit-cni-node{{- end -}}

{{- define "ambit-cni.selectorLabels" -}}
app.kubernetes.io/name: ambit-cni
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels every object of this chart carries (app.kubernetes.io/*, as Helm recommends). */}}
{{- define "ambit-cni.labels" -}}
{{ include "ambit-cni.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: cni
app.kubernetes.io/part-of: ambit
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ambit-cni.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "ambit-cni.clusterName" -}}ambit-cni-{{ .Release.Namespace }}{{- end -}}
