{{/* Names and labels shared by every object of the chart. */}}
{{- define "netwarden.fullname" -}}
{{- if contains "netwarden" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-netwarden" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "netwarden.labels" -}}
app.kubernetes.io/name: netwarden
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "netwarden.versionLabels" . }}
{{- end -}}

{{- define "netwarden.versionLabels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "netwarden.agentSelector" -}}
app.kubernetes.io/name: netwarden
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "netwarden.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
KUBERNETES_SERVICE_HOST/PORT for apiServer.host/port (container env wins over the service
variables the kubelet injects); nothing when apiServer.host is empty (in-cluster defaults).
*/}}
{{- define "netwarden.apiServerEnv" -}}
{{- with .Values.apiServer }}
{{- if .host }}
{{- if not .port }}
{{- fail "apiServer.port is required when apiServer.host is set" }}
{{- end }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .host | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .port | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The agent's ServiceAccount as the API server names its user. */}}
{{- define "netwarden.agentUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace .Values.serviceAccount.name -}}
{{- end -}}

{{- define "netwarden.cleanupName" -}}
{{- printf "%s-cleanup" (include "netwarden.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "netwarden.cleanupUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "netwarden.cleanupName" .) -}}
{{- end -}}

{{- define "netwarden.metricsPort" -}}
{{- regexFind "[0-9]+$" (toString .Values.config.listen) -}}
{{- end -}}

{{/*
The body of a ValidatingAdmissionPolicy on Node writes by one ServiceAccount: only netwarden's keys
may change (its condition, its NoSchedule taint, netwarden.dev/* annotations); labels, other
taints, other conditions, cordon, finalizers and the rest of the status stay as they were. With
ownNodeOnly the user may write only the Node named in its pod-bound token
(request.userInfo.extra["authentication.kubernetes.io/node-name"]); a token without it is denied.
Arguments: dict "user" <username> "ownNodeOnly" <bool>.
*/}}
{{- define "netwarden.nodeWritesPolicySpec" -}}
failurePolicy: Fail
matchConstraints:
  resourceRules:
    - apiGroups: [""]
      apiVersions: ["*"]
      operations: ["UPDATE"]
      resources: ["nodes", "nodes/status"]
matchConditions:
  - name: is-netwarden-identity
    expression: request.userInfo.username == {{ .user | quote }}
variables:
  - name: labels
    expression: "has(object.metadata.labels) ? object.metadata.labels : {}"
  - name: oldLabels
    expression: "has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}"
  - name: annotations
    expression: "has(object.metadata.annotations) ? object.metadata.annotations : {}"
  - name: oldAnnotations
    expression: "has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {}"
  - name: otherTaints
    expression: "(has(object.spec.taints) ? object.spec.taints : []).filter(t, t.key != 'netwarden.dev/datapath-unready')"
  - name: oldOtherTaints
    expression: "(has(oldObject.spec.taints) ? oldObject.spec.taints : []).filter(t, t.key != 'netwarden.dev/datapath-unready')"
  - name: otherConditions
    expression: "(has(object.status.conditions) ? object.status.conditions : []).filter(c, c.type != 'netwarden.dev/DataPathReady')"
  - name: oldOtherConditions
    expression: "(has(oldObject.status.conditions) ? oldObject.status.conditions : []).filter(c, c.type != 'netwarden.dev/DataPathReady')"
validations:
{{- if .ownNodeOnly }}
  - expression: >-
      'authentication.kubernetes.io/node-name' in request.userInfo.extra &&
      request.userInfo.extra['authentication.kubernetes.io/node-name'].exists(n, n == object.metadata.name)
    messageExpression: >-
      'netwarden may write only the Node it runs on: this token is bound to node ' +
      ('authentication.kubernetes.io/node-name' in request.userInfo.extra ?
        request.userInfo.extra['authentication.kubernetes.io/node-name'].join(',') : '(none: not a pod-bound token)') +
      ', not ' + object.metadata.name
    reason: Forbidden
{{- end }}
  # One label of its own, netwarden.dev/gated (value "true"), which follows its taint: the
  # breaker's agents watch only the Nodes carrying it. Every other label stays as it was.
  - expression: >-
      variables.labels.all(k, k == 'netwarden.dev/gated' ||
        (k in variables.oldLabels && variables.oldLabels[k] == variables.labels[k])) &&
      variables.oldLabels.all(k, k == 'netwarden.dev/gated' || k in variables.labels)
    message: netwarden may not change Node labels other than netwarden.dev/gated
    reason: Forbidden
  - expression: >-
      !('netwarden.dev/gated' in variables.labels) || variables.labels['netwarden.dev/gated'] == 'true'
    message: netwarden's label netwarden.dev/gated may only have the value "true"
    reason: Forbidden
  - expression: >-
      variables.annotations.all(k, k.startsWith('netwarden.dev/') ||
        (k in variables.oldAnnotations && variables.oldAnnotations[k] == variables.annotations[k])) &&
      variables.oldAnnotations.all(k, k.startsWith('netwarden.dev/') || k in variables.annotations)
    message: netwarden may change only netwarden.dev/* annotations on a Node
    reason: Forbidden
  - expression: variables.otherTaints == variables.oldOtherTaints
    message: netwarden may change only its own taint (netwarden.dev/datapath-unready) on a Node
    reason: Forbidden
  - expression: >-
      (has(object.spec.taints) ? object.spec.taints : []).all(t,
        t.key != 'netwarden.dev/datapath-unready' || t.effect == 'NoSchedule')
    message: netwarden's taint may only have the NoSchedule effect
    reason: Forbidden
  - expression: >-
      (has(object.spec.unschedulable) && object.spec.unschedulable) ==
      (has(oldObject.spec.unschedulable) && oldObject.spec.unschedulable)
    message: netwarden may not cordon or uncordon a Node
    reason: Forbidden
  - expression: >-
      (has(object.metadata.finalizers) ? object.metadata.finalizers : []) ==
      (has(oldObject.metadata.finalizers) ? oldObject.metadata.finalizers : [])
    message: netwarden may not change Node finalizers
    reason: Forbidden
  - expression: variables.otherConditions == variables.oldOtherConditions
    message: netwarden may change only its own condition (netwarden.dev/DataPathReady) on a Node
    reason: Forbidden
  - expression: >-
      has(object.status.nodeInfo) == has(oldObject.status.nodeInfo) &&
      (!has(object.status.nodeInfo) || object.status.nodeInfo == oldObject.status.nodeInfo) &&
      has(object.status.addresses) == has(oldObject.status.addresses) &&
      (!has(object.status.addresses) || object.status.addresses == oldObject.status.addresses) &&
      has(object.status.capacity) == has(oldObject.status.capacity) &&
      (!has(object.status.capacity) || object.status.capacity == oldObject.status.capacity) &&
      has(object.status.allocatable) == has(oldObject.status.allocatable) &&
      (!has(object.status.allocatable) || object.status.allocatable == oldObject.status.allocatable)
    message: netwarden may not change a Node's nodeInfo, addresses, capacity or allocatable
    reason: Forbidden
{{- end -}}

{{/*
The body of a ValidatingAdmissionPolicy on the agent's pod status writes (the readiness gate
netwarden.dev/PodNetworkReady): only pods bound to the node named in its pod-bound token, and only
that one condition; the kubelet's conditions, phase, IPs and container statuses stay as they were.
Arguments: dict "user" <username>.
*/}}
{{- define "netwarden.podStatusPolicySpec" -}}
failurePolicy: Fail
matchConstraints:
  resourceRules:
    - apiGroups: [""]
      apiVersions: ["*"]
      operations: ["UPDATE"]
      resources: ["pods/status"]
matchConditions:
  - name: is-netwarden-identity
    expression: request.userInfo.username == {{ .user | quote }}
variables:
  - name: otherConditions
    expression: "(has(object.status.conditions) ? object.status.conditions : []).filter(c, c.type != 'netwarden.dev/PodNetworkReady')"
  - name: oldOtherConditions
    expression: "(has(oldObject.status.conditions) ? oldObject.status.conditions : []).filter(c, c.type != 'netwarden.dev/PodNetworkReady')"
validations:
  - expression: >-
      'authentication.kubernetes.io/node-name' in request.userInfo.extra &&
      has(object.spec.nodeName) &&
      request.userInfo.extra['authentication.kubernetes.io/node-name'].exists(n, n == object.spec.nodeName)
    messageExpression: >-
      'netwarden may write the status only of pods on the Node it runs on: this token is bound to node ' +
      ('authentication.kubernetes.io/node-name' in request.userInfo.extra ?
        request.userInfo.extra['authentication.kubernetes.io/node-name'].join(',') : '(none: not a pod-bound token)') +
      ', the pod is on ' + (has(object.spec.nodeName) ? object.spec.nodeName : '(no node)')
    reason: Forbidden
  - expression: variables.otherConditions == variables.oldOtherConditions
    message: netwarden may change only its own pod condition (netwarden.dev/PodNetworkReady)
    reason: Forbidden
  - expression: >-
      (has(object.status.phase) ? object.status.phase : '') == (has(oldObject.status.phase) ? oldObject.status.phase : '') &&
      has(object.status.podIPs) == has(oldObject.status.podIPs) &&
      (!has(object.status.podIPs) || object.status.podIPs == oldObject.status.podIPs) &&
      has(object.status.containerStatuses) == has(oldObject.status.containerStatuses) &&
      (!has(object.status.containerStatuses) || object.status.containerStatuses == oldObject.status.containerStatuses)
    message: netwarden may not change a pod's phase, IPs or container statuses
    reason: Forbidden
{{- end -}}
