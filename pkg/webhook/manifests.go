package webhook

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/live"
)

// ManifestOptions configure the installation manifests.
type ManifestOptions struct {
	Namespace string
	Image     string
	Replicas  int
	// Config is the webhook section written into the ConfigMap and
	// mirrored in the webhook configurations (failure policy, selectors).
	Config *config.Config
	// ConfigYAML is the configuration file to ship, verbatim.
	ConfigYAML string
	// CertManager adds a cert-manager Issuer and Certificate for the
	// serving certificate and lets cert-manager inject the caBundle;
	// without it, the Secret kubeguard-webhook-tls must be created.
	CertManager bool
}

// Name is the name of every object of the installation.
const Name = "kubeguard"

// Manifests renders everything kubeguard's webhook needs: Namespace,
// ServiceAccount with read-only RBAC for the live inventory, ConfigMap,
// Deployment (replicas spread over nodes, hardened), PodDisruptionBudget,
// Service, NetworkPolicy, and the validating and mutating webhook
// configurations. kube-system and kubeguard's own namespace are excluded
// from admission so the webhook can never lock the cluster out.
func Manifests(o ManifestOptions) (string, error) {
	if o.Namespace == "" {
		o.Namespace = Name
	}
	if o.Replicas < 2 {
		o.Replicas = 2
	}
	if o.Config == nil {
		o.Config = &config.Config{}
	}
	if err := o.Config.Webhook.Validate(); err != nil {
		return "", err
	}
	if o.ConfigYAML == "" {
		o.ConfigYAML = "webhook:\n  rules:\n  - frameworks: [\"PSS:baseline\"]\n    mode: enforce\n  defaultMode: warn\n"
	}
	nsSel := map[string]any{"matchExpressions": []any{map[string]any{
		"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": []any{"kube-system", o.Namespace}}}}
	if s := o.Config.Webhook.NamespaceSelector; s != nil {
		for _, e := range s.MatchExpressions {
			nsSel["matchExpressions"] = append(nsSel["matchExpressions"].([]any), e)
		}
		if len(s.MatchLabels) > 0 {
			nsSel["matchLabels"] = s.MatchLabels
		}
	}
	data := map[string]any{
		"Name": Name, "Namespace": o.Namespace, "Image": o.Image, "Replicas": o.Replicas,
		"FailurePolicy": o.Config.Webhook.FailurePolicy, "CertManager": o.CertManager,
		"NamespaceSelector": toYAML(nsSel, 6), "ObjectSelector": toYAML(o.Config.Webhook.ObjectSelector, 6),
		"Config": indent(o.ConfigYAML, 4), "Rules": rbacRules(), "Mutate": len(o.Config.Webhook.Mutate) > 0,
	}
	var b bytes.Buffer
	if err := manifestTmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// rbacRules grants read access to exactly the kinds the live inventory
// watches.
func rbacRules() string {
	byGroup := map[string][]string{}
	var groups []string
	for _, k := range live.Kinds {
		if _, ok := byGroup[k.Group]; !ok {
			groups = append(groups, k.Group)
		}
		gvr, _ := meta.UnsafeGuessKindToResource(k)
		byGroup[k.Group] = append(byGroup[k.Group], gvr.Resource)
	}
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "- apiGroups: [%q]\n  resources: [%s]\n  verbs: [get, list, watch]\n", g, strings.Join(byGroup[g], ", "))
	}
	return b.String()
}

func toYAML(v any, n int) string {
	if v == nil {
		return ""
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) == "null\n" {
		return ""
	}
	return indent(string(out), n)
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}

// The webhook receives the kinds kubeguard has controls for. Admission
// covers every workload kind, the pod subresource for ephemeral containers,
// exposure, RBAC, ServiceAccounts and ConfigMaps (hard-coded credentials).
const webhookRules = `    - apiGroups: [""]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [pods, pods/ephemeralcontainers, replicationcontrollers, services, serviceaccounts, configmaps]
    - apiGroups: [apps]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [deployments, statefulsets, daemonsets, replicasets]
    - apiGroups: [batch]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [jobs, cronjobs]
    - apiGroups: [networking.k8s.io]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [ingresses, networkpolicies]
    - apiGroups: [rbac.authorization.k8s.io]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [roles, rolebindings, clusterroles, clusterrolebindings]`

const mutateRules = `    - apiGroups: [""]
      apiVersions: ["*"]
      operations: [CREATE]
      resources: [pods]
    - apiGroups: [""]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [replicationcontrollers]
    - apiGroups: [apps]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [deployments, statefulsets, daemonsets, replicasets]
    - apiGroups: [batch]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [jobs, cronjobs]`

var manifestTmpl = template.Must(template.New("manifests").Funcs(template.FuncMap{
	"webhookRules": func() string { return webhookRules },
	"mutateRules":  func() string { return mutateRules },
	// hook describes one of the two webhook configurations.
	"hook": func(root map[string]any, kind, path, rules string) map[string]any {
		return map[string]any{"Root": root, "Kind": kind, "Path": path, "Rules": rules}
	},
}).Parse(`# kubeguard admission webhook. Generated by kubeguard webhook install-manifests.
apiVersion: v1
kind: Namespace
metadata:
  name: {{.Namespace}}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
---
# The token is mounted explicitly by the Deployment (projected, short-lived),
# never automatically.
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{.Name}}
  namespace: {{.Namespace}}
automountServiceAccountToken: false
---
# Read-only access to what the cross-object controls read; no Secrets.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{.Name}}-webhook
rules:
{{.Rules -}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{.Name}}-webhook
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{.Name}}-webhook
subjects:
- kind: ServiceAccount
  name: {{.Name}}
  namespace: {{.Namespace}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{.Name}}-config
  namespace: {{.Namespace}}
data:
  config.yaml: |
{{.Config}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{.Name}}
  namespace: {{.Namespace}}
  labels:
    app.kubernetes.io/name: {{.Name}}
spec:
  replicas: {{.Replicas}}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{.Name}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{.Name}}
      annotations:
        kubeguard.io/ignore: POD-HOST-USERS
        kubeguard.io/ignore-reason: "user namespaces need node support; the admission webhook must start on every node"
    spec:
      serviceAccountName: {{.Name}}
      automountServiceAccountToken: false
      priorityClassName: system-cluster-critical
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                app.kubernetes.io/name: {{.Name}}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      terminationGracePeriodSeconds: 40
      containers:
      - name: webhook
        image: {{.Image}}
        imagePullPolicy: IfNotPresent
        args:
        - webhook
        - --listen=:8443
        - --tls-cert-file=/etc/kubeguard/tls/tls.crt
        - --tls-key-file=/etc/kubeguard/tls/tls.key
        - --config=/etc/kubeguard/config/config.yaml
        ports:
        - name: https
          containerPort: 8443
        readinessProbe:
          httpGet:
            path: /readyz
            port: https
            scheme: HTTPS
          periodSeconds: 5
        livenessProbe:
          httpGet:
            path: /healthz
            port: https
            scheme: HTTPS
          periodSeconds: 10
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            cpu: "1"
            memory: 512Mi
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
        volumeMounts:
        - name: tls
          mountPath: /etc/kubeguard/tls
          readOnly: true
        - name: config
          mountPath: /etc/kubeguard/config
          readOnly: true
        - name: token
          mountPath: /var/run/secrets/kubernetes.io/serviceaccount
          readOnly: true
      volumes:
      - name: tls
        secret:
          secretName: {{.Name}}-webhook-tls
      - name: config
        configMap:
          name: {{.Name}}-config
      - name: token
        projected:
          sources:
          - serviceAccountToken:
              path: token
              expirationSeconds: 3600
          - configMap:
              name: kube-root-ca.crt
              items:
              - key: ca.crt
                path: ca.crt
          - downwardAPI:
              items:
              - path: namespace
                fieldRef:
                  fieldPath: metadata.namespace
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{.Name}}
  namespace: {{.Namespace}}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{.Name}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{.Name}}
  namespace: {{.Namespace}}
spec:
  selector:
    app.kubernetes.io/name: {{.Name}}
  ports:
  - name: https
    port: 443
    targetPort: https
---
# The API server calls in on 8443 (its address is not a pod's, so no peer
# can be named); the webhook calls out only to the API server and DNS.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{.Name}}
  namespace: {{.Namespace}}
  annotations:
    kubeguard.io/ignore: NET-ALLOW-ALL-INGRESS
    kubeguard.io/ignore-reason: "the API server's source address is not known in advance; only port 8443 is open"
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: {{.Name}}
  policyTypes: [Ingress, Egress]
  ingress:
  - ports:
    - port: 8443
      protocol: TCP
  egress:
  - ports:
    - port: 443
      protocol: TCP
    - port: 6443
      protocol: TCP
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
    ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
---
# Everything else in the namespace is denied by default.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: {{.Namespace}}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
{{- if .CertManager}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {{.Name}}-selfsigned
  namespace: {{.Namespace}}
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{.Name}}-webhook
  namespace: {{.Namespace}}
spec:
  secretName: {{.Name}}-webhook-tls
  dnsNames:
  - {{.Name}}.{{.Namespace}}.svc
  - {{.Name}}.{{.Namespace}}.svc.cluster.local
  issuerRef:
    name: {{.Name}}-selfsigned
{{- end}}
---
{{template "configuration" (hook . "Validating" "validate" webhookRules)}}
{{- if .Mutate}}
---
{{template "configuration" (hook . "Mutating" "mutate" mutateRules)}}
{{- end}}
{{- define "configuration" -}}
apiVersion: admissionregistration.k8s.io/v1
kind: {{.Kind}}WebhookConfiguration
metadata:
  name: {{.Root.Name}}
  annotations:
{{- if .Root.CertManager}}
    cert-manager.io/inject-ca-from: {{.Root.Namespace}}/{{.Root.Name}}-webhook
{{- end}}
{{- if eq .Root.FailurePolicy "Ignore"}}
    kubeguard.io/ignore: WEBHOOK-FAIL-OPEN
    kubeguard.io/ignore-reason: "kubeguard fails open unless webhook.failurePolicy is Fail, so an outage never blocks deploys"
{{- end}}
webhooks:
- name: {{.Path}}.kubeguard.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: {{.Root.FailurePolicy}}
  matchPolicy: Equivalent
{{- if eq .Kind "Mutating"}}
  reinvocationPolicy: IfNeeded
{{- end}}
  timeoutSeconds: 5
  clientConfig:
    service:
      name: {{.Root.Name}}
      namespace: {{.Root.Namespace}}
      path: /{{.Path}}
  namespaceSelector:
{{.Root.NamespaceSelector}}
{{- if .Root.ObjectSelector}}
  objectSelector:
{{.Root.ObjectSelector}}
{{- end}}
  rules:
{{.Rules}}
{{- end}}
`))
