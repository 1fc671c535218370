{{/*
Helpers shared by every template. Component templates call them with a dict:
  root      - the top-level context ($)
  name      - the component (role) name, or a shared part (dapr, kafka, monitoring)
  c         - the component's values (component templates only)
*/}}

{{- define "ontask.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ontask.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ontask.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The application version: the image tag, else the chart's appVersion. */}}
{{- define "ontask.version" -}}
{{- default .Chart.AppVersion .Values.image.tag | replace "+" "_" | replace "@" "_" | replace ":" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <fullname>-<component>, the name of every per-component resource. */}}
{{- define "ontask.componentName" -}}
{{- printf "%s-%s" (include "ontask.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of a release (never include the version). */}}
{{- define "ontask.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ontask.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Every label FR-026 requires, plus Helm's own. */}}
{{- define "ontask.labels" -}}
{{ include "ontask.selectorLabels" . }}
app.kubernetes.io/version: {{ include "ontask.version" .root | quote }}
app.kubernetes.io/part-of: {{ .root.Values.metadata.partOf | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "ontask.chart" .root }}
environment: {{ .root.Values.environment | quote }}
team: {{ .root.Values.metadata.team | quote }}
cost-center: {{ .root.Values.metadata.costCenter | quote }}
{{- with .root.Values.metadata.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- with .labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Every annotation FR-027 requires. `description` says what the resource is. */}}
{{- define "ontask.annotations" -}}
description: {{ .description | quote }}
owner: {{ .root.Values.metadata.owner | quote }}
contact: {{ .root.Values.metadata.contact | quote }}
documentation: {{ .root.Values.metadata.documentation | quote }}
incident-channel: {{ .root.Values.metadata.incidentChannel | quote }}
{{- with .root.Values.metadata.extraAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .annotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
labels: and annotations: of a resource's metadata. Call with
dict "root" $ "name" <component> "description" <text> [ "labels" {} ] [ "annotations" {} ].
*/}}
{{- define "ontask.metadata" -}}
labels:
  {{- include "ontask.labels" . | nindent 2 }}
annotations:
  {{- include "ontask.annotations" . | nindent 2 }}
{{- end }}

{{/* The description of a component's resources. */}}
{{- define "ontask.componentDescription" -}}
{{- printf "ontask %s: %s" .name (.c.description | default "role of the ontask binary") }}
{{- end }}

{{- define "ontask.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "ontask.secretName" -}}
{{- default (printf "%s-secrets" (include "ontask.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "ontask.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create }}
{{- include "ontask.componentName" . }}
{{- else }}
{{- "default" }}
{{- end }}
{{- end }}

{{/* The Dapr app-id of a component. */}}
{{- define "ontask.daprAppId" -}}
{{- include "ontask.componentName" . }}
{{- end }}

{{/* ONTASK_BUS__KIND: explicit, else dapr when Dapr is on, else kafka. */}}
{{- define "ontask.busKind" -}}
{{- if .Values.config.bus.kind }}
{{- .Values.config.bus.kind }}
{{- else if .Values.dapr.enabled }}
{{- "dapr" }}
{{- else }}
{{- "kafka" }}
{{- end }}
{{- end }}

{{/* A component setting: the component's own value, else the chart-wide one. */}}
{{- define "ontask.replicas" -}}
{{- if hasKey .c "replicaCount" }}{{ .c.replicaCount }}{{ else }}{{ .root.Values.replicaCount }}{{ end }}
{{- end }}

{{/* The autoscaling settings of a component as YAML (chart-wide merged with its own). */}}
{{- define "ontask.autoscaling" -}}
{{- $a := deepCopy .root.Values.autoscaling }}
{{- with .c.autoscaling }}{{ $a = mustMergeOverwrite $a (deepCopy .) }}{{ end }}
{{- toYaml $a }}
{{- end }}

{{- define "ontask.pdb" -}}
{{- $a := deepCopy .root.Values.pdb }}
{{- with .c.pdb }}{{ $a = mustMergeOverwrite $a (deepCopy .) }}{{ end }}
{{- toYaml $a }}
{{- end }}

{{- define "ontask.service" -}}
{{- $a := deepCopy .root.Values.service }}
{{- with .c.service }}{{ $a = mustMergeOverwrite $a (deepCopy .) }}{{ end }}
{{- toYaml $a }}
{{- end }}

{{- define "ontask.probes" -}}
{{- $a := deepCopy .root.Values.probes }}
{{- with .c.probes }}{{ $a = mustMergeOverwrite $a (deepCopy .) }}{{ end }}
{{- toYaml $a }}
{{- end }}

{{/*
The non-secret environment of a component, as a YAML map (ConfigMap data).
Only variables the binary documents (deploy/tests/config_keys.txt) or OTEL_*.
*/}}
{{- define "ontask.configData" -}}
{{- $v := .root.Values }}
{{- $env := dict }}
{{- $_ := set $env "ONTASK_LISTEN" (printf "0.0.0.0:%d" (int $v.containerPort)) }}
{{- if eq (int $v.opsPort) (int $v.containerPort) }}{{ fail "opsPort must differ from containerPort: the operational endpoints are kept off the public port" }}{{ end }}
{{- $_ := set $env "ONTASK_OPS_LISTEN" (printf "0.0.0.0:%d" (int $v.opsPort)) }}
{{- $_ := set $env "ONTASK_DATA_DIR" $v.dataDir.path }}
{{- $_ := set $env "ONTASK_ROLE" .name }}
{{- $log := $v.log }}
{{- with .c.log }}{{ $log = mustMergeOverwrite (deepCopy $v.log) (deepCopy .) }}{{ end }}
{{- $_ := set $env "ONTASK_LOG" $log.level }}
{{- $_ := set $env "ONTASK_LOG_FORMAT" $log.format }}
{{- with $v.config.publicUrl }}{{ $_ := set $env "ONTASK_PUBLIC_URL" . }}{{ end }}
{{- with $v.config.auth.jwksUrl }}{{ $_ := set $env "ONTASK_AUTH__JWKS_URL" . }}{{ end }}
{{- with $v.config.auth.jwtIssuer }}{{ $_ := set $env "ONTASK_AUTH__JWT_ISSUER" . }}{{ end }}
{{- with $v.config.auth.jwtAudience }}{{ $_ := set $env "ONTASK_AUTH__JWT_AUDIENCE" . }}{{ end }}
{{- $_ := set $env "ONTASK_AUTH__COOKIE_SECURE" (ternary "true" "false" $v.config.auth.cookieSecure) }}
{{- $_ := set $env "ONTASK_AUTH__PREVIOUS_SECRET_GRACE_HOURS" (toString (int $v.config.auth.previousSecretGraceHours)) }}
{{- with $v.config.telemetry.otlpEndpoint }}{{ $_ := set $env "ONTASK_TELEMETRY__OTLP_ENDPOINT" . }}{{ end }}
{{- with $v.config.smtp.from }}{{ $_ := set $env "ONTASK_SMTP__FROM" . }}{{ end }}
{{- with $v.config.push.subject }}{{ $_ := set $env "ONTASK_PUSH__SUBJECT" . }}{{ end }}
{{- if $v.config.webhooks.allowPrivateTargets }}{{ $_ := set $env "ONTASK_WEBHOOKS__ALLOW_PRIVATE_TARGETS" "true" }}{{ end }}
{{- $service := printf "ontask-%s" .name }}
{{- $_ := set $env "ONTASK_TELEMETRY__SERVICE_NAME" $service }}
{{- $_ := set $env "OTEL_SERVICE_NAME" $service }}
{{- $bus := include "ontask.busKind" .root }}
{{- $_ := set $env "ONTASK_BUS__KIND" $bus }}
{{- $_ := set $env "ONTASK_BUS__TOPIC_TASK_EVENTS" $v.topics.taskEvents }}
{{- $_ := set $env "ONTASK_BUS__TOPIC_REMINDERS" $v.topics.reminders }}
{{- $_ := set $env "ONTASK_BUS__TOPIC_TASK_UPDATES" $v.topics.taskUpdates }}
{{- if eq $bus "kafka" }}
{{- $_ := set $env "ONTASK_KAFKA__BROKERS" $v.config.kafka.brokers }}
{{- $_ := set $env "ONTASK_KAFKA__GROUP_PREFIX" $v.config.kafka.groupPrefix }}
{{- end }}
{{- if eq $bus "dapr" }}
{{- $_ := set $env "ONTASK_DAPR__HTTP_PORT" (toString $v.dapr.httpPort) }}
{{- $_ := set $env "ONTASK_DAPR__PUBSUB_NAME" $v.dapr.pubsub.name }}
{{- $_ := set $env "ONTASK_DAPR__BROADCAST_PUBSUB_NAME" $v.dapr.pubsub.broadcastName }}
{{- $_ := set $env "ONTASK_DAPR__REMINDER_SCAN_BINDING" $v.dapr.reminderScan.name }}
{{- end }}
{{- range $k, $val := $v.config.extraEnv }}{{ $_ := set $env $k (toString $val) }}{{ end }}
{{- range $k, $val := (.c.env | default dict) }}{{ $_ := set $env $k (toString $val) }}{{ end }}
{{- range $k := keys $env | sortAlpha }}
{{ $k }}: {{ get $env $k | quote }}
{{- end }}
{{- end }}

{{/*
OTEL_RESOURCE_ATTRIBUTES of a component's pods: the release's attributes, and
where the pod runs from the downward API variables K8S_* (the kubelet expands
$(VAR) in an env value).
*/}}
{{- define "ontask.resourceAttributes" -}}
{{- $v := .root.Values }}
{{- $attrs := list (printf "deployment.environment=%s" $v.environment) (printf "service.namespace=%s" $v.metadata.partOf) (printf "service.version=%s" (include "ontask.version" .root)) }}
{{- $attrs = concat $attrs (list (printf "k8s.deployment.name=%s" (include "ontask.componentName" .)) "k8s.namespace.name=$(K8S_NAMESPACE)" "k8s.pod.name=$(K8S_POD_NAME)" "k8s.node.name=$(K8S_NODE_NAME)") }}
{{- join "," $attrs }}
{{- end }}

{{/* Names of enabled components, sorted, as a list. */}}
{{- define "ontask.enabledComponents" -}}
{{- $names := list }}
{{- range $name, $c := .Values.components }}{{ if $c.enabled }}{{ $names = append $names $name }}{{ end }}{{ end }}
{{- toJson $names }}
{{- end }}
