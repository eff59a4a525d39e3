package object

import "strings"

// clusterScoped are the cluster-scoped kinds of the Kubernetes API (an
// end-to-end test holds the list to a real API server's discovery), with
// the widely used cluster-scoped custom resources kubeguard reads.
var clusterScoped = map[string]bool{
	"/ComponentStatus": true, "/Namespace": true, "/Node": true, "/PersistentVolume": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"apiextensions.k8s.io/CustomResourceDefinition":                 true,
	"apiregistration.k8s.io/APIService":                             true,
	"authentication.k8s.io/SelfSubjectReview":                       true,
	"authentication.k8s.io/TokenReview":                             true,
	"authorization.k8s.io/SelfSubjectAccessReview":                  true,
	"authorization.k8s.io/SelfSubjectRulesReview":                   true,
	"authorization.k8s.io/SubjectAccessReview":                      true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
	"certificates.k8s.io/ClusterTrustBundle":                        true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":       true,
	"networking.k8s.io/IPAddress":                                   true,
	"networking.k8s.io/IngressClass":                                true,
	"networking.k8s.io/ServiceCIDR":                                 true,
	"node.k8s.io/RuntimeClass":                                      true,
	"rbac.authorization.k8s.io/ClusterRole":                         true,
	"rbac.authorization.k8s.io/ClusterRoleBinding":                  true,
	"resource.k8s.io/DeviceClass":                                   true,
	"resource.k8s.io/DeviceTaintRule":                               true,
	"resource.k8s.io/ResourceSlice":                                 true,
	"scheduling.k8s.io/PriorityClass":                               true,
	"storage.k8s.io/CSIDriver":                                      true,
	"storage.k8s.io/CSINode":                                        true,
	"storage.k8s.io/StorageClass":                                   true,
	"storage.k8s.io/VolumeAttachment":                               true,
	"storage.k8s.io/VolumeAttributesClass":                          true,
	"storagemigration.k8s.io/StorageVersionMigration":               true,
	// Custom resources.
	"policy.networking.k8s.io/AdminNetworkPolicy":         true,
	"policy.networking.k8s.io/BaselineAdminNetworkPolicy": true,
	"templates.gatekeeper.sh/ConstraintTemplate":          true,
	"kyverno.io/ClusterPolicy":                            true,
	"cert-manager.io/ClusterIssuer":                       true,
}

// ClusterScoped reports whether objects of a kind live outside namespaces:
// the API server's cluster-scoped kinds, Gatekeeper's constraints, and
// custom kinds named Cluster* (ClusterIssuer, ClusterPolicy, ...), the
// convention for cluster-scoped custom resources. Any namespace such an
// object carries is ignored by the API server.
func ClusterScoped(r Ref) bool {
	g := r.Group()
	if clusterScoped[g+"/"+r.Kind] || g == "constraints.gatekeeper.sh" {
		return true
	}
	return strings.HasPrefix(r.Kind, "Cluster") && strings.Contains(g, ".")
}
