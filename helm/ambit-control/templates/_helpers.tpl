{{/*
The control plane's name is fixed: its serving certificate names ambit-control.<namespace>.svc,
and ztunnel and waypoints dial that name, so it cannot follow the release name.
*/}}
{{- define "ambit-control.name" -}}ambit-control{{- end -}}

{{- define "ambit-control.selectorLabels" -}}
app.kubernetes.io/name: ambit-control
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels every object of this chart carries (app.kubernetes.io/*, as Helm recommends). */}}
{{- define "ambit-control.labels" -}}
{{ include "ambit-control.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: control-plane
app.kubernetes.io/part-of: ambit
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ambit-control.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace, so two installations in two namespaces do not collide. */}}
{{- define "ambit-control.clusterName" -}}ambit-control-{{ .Release.Namespace }}{{- end -}}
