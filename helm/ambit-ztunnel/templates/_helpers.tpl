{{- define "ambit-ztunnel.name" -}}ztunnel{{- end -}}

{{- define "ambit-ztunnel.selectorLabels" -}}
app.kubernetes.io/name: ambit-ztunnel
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels every object of this chart carries (app.kubernetes.io/*, as Helm recommends). */}}
{{- define "ambit-ztunnel.labels" -}}
{{ include "ambit-ztunnel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: ztunnel
app.kubernetes.io/part-of: ambit
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ambit-ztunnel.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "ambit-ztunnel.xdsAddress" -}}
{{ .Values.xdsAddress | default (printf "ambit-control.%s.svc:15012" .Release.Namespace) }}
{{- end -}}

{{- define "ambit-ztunnel.otlpEndpoint" -}}
{{ .Values.otlpEndpoint | default (printf "http://ambit-control.%s.svc:15014/v1/traces" .Release.Namespace) }}
{{- end -}}
