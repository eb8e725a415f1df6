{{/* Names and labels. */}}
{{- define "retention.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "retention.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "retention.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "retention.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "retention.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "retention.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end -}}

{{/* A service's values: serviceDefaults overlaid with services.<name>. Call with (dict "root" $ "name" $name). */}}
{{- define "retention.serviceValues" -}}
{{- $svc := index .root.Values.services .name | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $svc)) -}}
{{- end -}}

{{/* Environment every process shares: brokers, prefix, logging, Kafka TLS/SASL of `username` with
the password and client certificate from the process's Secret (mounted at /run/secrets/retention). */}}
{{- define "retention.commonEnv" -}}
{{- $v := .root.Values -}}
- name: KAFKA_BROKERS
  value: {{ join "," $v.kafka.brokers | quote }}
- name: RETENTION_TOPIC_PREFIX
  value: {{ $v.kafka.topicPrefix | quote }}
- name: LOG_LEVEL
  value: {{ $v.logLevel | quote }}
{{- with $v.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if $v.kafka.ssl.enabled }}
- name: KAFKA_SSL
  value: "true"
{{- if $v.kafka.ssl.caSecretName }}
- name: KAFKA_SSL_CA_FILE
  value: /run/secrets/kafka-ca/ca.crt
{{- end }}
{{- if $v.kafka.ssl.clientCertificates }}
- name: KAFKA_SSL_CERT_FILE
  value: /run/secrets/retention/kafka-client.crt
- name: KAFKA_SSL_KEY_FILE
  value: /run/secrets/retention/kafka-client.key
{{- end }}
{{- end }}
{{- if $v.kafka.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ .username | quote }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /run/secrets/retention/kafka-sasl-password
{{- end }}
{{- end -}}

{{/* How a long-running process starts on a cluster: no topic creation and no DDL when the hook Jobs
do them (RETENTION_CREATE_TOPICS=false, DATABASE_MIGRATE=false: the process checks and names what is
missing), and /metrics on a port of its own. */}}
{{- define "retention.clusterEnv" -}}
{{- $v := .Values -}}
{{- if $v.kafka.setup.enabled }}
- name: RETENTION_CREATE_TOPICS
  value: "false"
{{- end }}
{{- if $v.migrations.enabled }}
- name: DATABASE_MIGRATE
  value: "false"
{{- end }}
- name: METRICS_HOST
  value: 0.0.0.0
- name: METRICS_PORT
  value: {{ $v.metrics.port | quote }}
{{- with $v.metrics.refreshSeconds }}
- name: METRICS_REFRESH_SECONDS
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The pod's name as INSTANCE_ID (distinguishes replicas in consumer groups and logs). */}}
{{- define "retention.instanceEnv" -}}
- name: INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{/* Extra variables from a map, sorted. */}}
{{- define "retention.extraEnv" -}}
{{- range $k, $val := . }}
- name: {{ $k }}
  value: {{ $val | toString | quote }}
{{- end }}
{{- end -}}

{{/* Volumes: the process's Secret, the Kafka CA, /tmp. Call with (dict "root" $ "secretName" ...). */}}
{{- define "retention.secretVolumes" -}}
- name: secrets
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
    {{- if .optional }}
    # Only needed with SASL or client certificates.
    optional: true
    {{- end }}
- name: tmp
  emptyDir: { medium: Memory, sizeLimit: 64Mi }
{{- if and .root.Values.kafka.ssl.enabled .root.Values.kafka.ssl.caSecretName }}
- name: kafka-ca
  secret:
    secretName: {{ .root.Values.kafka.ssl.caSecretName }}
    defaultMode: 0444
{{- end }}
{{- end -}}

{{- define "retention.secretMounts" -}}
- name: secrets
  mountPath: /run/secrets/retention
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if and .Values.kafka.ssl.enabled .Values.kafka.ssl.caSecretName }}
- name: kafka-ca
  mountPath: /run/secrets/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "retention.podSpecCommon" -}}
serviceAccountName: {{ include "retention.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probes on the ops port: /healthz (alive) and /readyz (its database and Kafka answer). */}}
{{- define "retention.probes" -}}
{{- $p := .root.Values.probes -}}
startupProbe:
  httpGet: { path: /healthz, port: {{ .port }} }
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
livenessProbe:
  httpGet: { path: /healthz, port: {{ .port }} }
  periodSeconds: {{ $p.liveness.periodSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
readinessProbe:
  httpGet: { path: /readyz, port: {{ .port }} }
  periodSeconds: {{ $p.readiness.periodSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
{{- end -}}
