package pss

// celChecks express Pod Security checks in CEL for ValidatingAdmissionPolicy
// export. They see the variables the policy package defines: spec (the pod
// spec of any workload kind), containers (init, regular and ephemeral) and
// windows (spec.os.name is windows; the restricted checks exempt such pods,
// as the reference implementation does). Each must hold for an admissible
// object. Only checks whose semantics CEL can state exactly are here.
var celChecks = map[string]string{
	"privileged": `variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged != true)`,

	"hostNamespaces": `!(has(variables.spec.hostNetwork) && variables.spec.hostNetwork == true) && ` +
		`!(has(variables.spec.hostPID) && variables.spec.hostPID == true) && ` +
		`!(has(variables.spec.hostIPC) && variables.spec.hostIPC == true)`,

	"hostPathVolumes": `!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath))`,

	"hostPorts": `variables.containers.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0))`,

	"allowPrivilegeEscalation": `variables.windows || variables.containers.all(c, has(c.securityContext) && ` +
		`has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false)`,

	// The pod must not say false; each container must say true itself or
	// inherit true from the pod.
	"runAsNonRoot": `variables.userns || !(has(variables.spec.securityContext) && has(variables.spec.securityContext.runAsNonRoot) && ` +
		`variables.spec.securityContext.runAsNonRoot == false) && ` +
		`variables.containers.all(c, (has(c.securityContext) && has(c.securityContext.runAsNonRoot)) ? ` +
		`c.securityContext.runAsNonRoot == true : ` +
		`(has(variables.spec.securityContext) && has(variables.spec.securityContext.runAsNonRoot) && variables.spec.securityContext.runAsNonRoot == true))`,

	"runAsUser": `variables.userns || !(has(variables.spec.securityContext) && has(variables.spec.securityContext.runAsUser) && variables.spec.securityContext.runAsUser == 0) && ` +
		`variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.runAsUser) || c.securityContext.runAsUser != 0)`,

	"capabilities_restricted": `variables.windows || variables.containers.all(c, has(c.securityContext) && has(c.securityContext.capabilities) && ` +
		`has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop.exists(d, d == 'ALL') && ` +
		`(!has(c.securityContext.capabilities.add) || c.securityContext.capabilities.add.all(a, a == 'NET_BIND_SERVICE')))`,
}
