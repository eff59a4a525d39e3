// Package dockerfile holds the controls on Dockerfiles, the build files of
// the images workloads run (CIS Docker Benchmark section 4, NIST SP 800-190
// image countermeasures).
package dockerfile

import (
	"regexp"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/controls/secrets"
	df "github.com/kubeguard/kubeguard/pkg/dockerfile"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// Controls returns the Dockerfile controls.
func Controls() []*control.Control {
	return []*control.Control{rootUser, baseLatest, baseNotPinned, addRemote, secretEnv, curlPipe, pkgUnpinned,
		pkgCache, sudo, exposeSSH, noHealthcheck, buildToolsInFinal}
}

// check wraps a Dockerfile control: it runs only on Dockerfile objects.
func check(f func(p *control.Pass, d *df.Dockerfile)) func(*control.Pass) {
	return func(p *control.Pass) {
		if d := df.Of(p.Object); d != nil && len(d.Stages) > 0 {
			f(p, d)
		}
	}
}

func dockerControl(id, title string, sev finding.Severity, rationale, remediation string, refs []string, f func(p *control.Pass, d *df.Dockerfile)) *control.Control {
	return &control.Control{ID: id, Title: title, Severity: sev, Category: "dockerfile", Rationale: rationale,
		Remediation: remediation, Refs: control.Refs(refs...), Kinds: []string{df.Kind}, Check: check(f)}
}

// runs returns the RUN instructions of the given stages.
func runs(stages ...df.Stage) []df.Instruction {
	var out []df.Instruction
	for _, st := range stages {
		for _, in := range st.Instructions {
			if in.Cmd == "run" {
				out = append(out, in)
			}
		}
	}
	return out
}

func text(in df.Instruction) string { return strings.Join(in.Args, " ") }

var rootUser = dockerControl("DF-ROOT-USER", "Image runs as root", finding.High,
	"Without a USER instruction (or with USER root or 0) the container's processes run as root; together with any "+
		"container escape that is root on the node. Kubernetes can override it, but only if every manifest remembers to.",
	"Create an unprivileged user in the image and end the final stage with USER <uid> (a numeric UID lets Kubernetes verify runAsNonRoot).",
	[]string{"CIS-Docker:4.1", "NIST:4.4.3", "MITRE:T1611"},
	func(p *control.Pass, d *df.Dockerfile) {
		st := d.Final()
		var last *df.Instruction
		for i := range st.Instructions {
			if st.Instructions[i].Cmd == "user" {
				last = &st.Instructions[i]
			}
		}
		if last == nil {
			if !d.IsStage(st.Image, len(d.Stages)-1) { // a later stage of the same file may inherit a USER
				p.Report(st.From.Path+".user", "the final stage sets no USER and runs as root")
			}
			return
		}
		if u := strings.SplitN(text(*last), ":", 2)[0]; u == "root" || u == "0" {
			p.Report(last.Path, "the final stage runs as %s", u)
		}
	})

// bases returns the FROM instructions of external images (not scratch, not
// an earlier stage).
func bases(d *df.Dockerfile, f func(st *df.Stage)) {
	for i := range d.Stages {
		st := &d.Stages[i]
		if st.Image == "" || strings.EqualFold(st.Image, "scratch") || d.IsStage(st.Image, i) || strings.Contains(st.Image, "$") {
			continue // build arguments decide the image: the value is not in the file
		}
		f(st)
	}
}

var baseLatest = dockerControl("DF-BASE-LATEST", "Base image uses latest or no tag", finding.Medium,
	"A base image without a tag or with latest changes under the build: two builds of the same commit produce different images.",
	"Use a versioned tag, ideally pinned by digest (FROM image:1.2.3@sha256:...).",
	[]string{"CIS-Docker:4.2", "NIST:4.1.5", "MITRE:T1525"},
	func(p *control.Pass, d *df.Dockerfile) {
		bases(d, func(st *df.Stage) {
			tag, digest := image.Tag(st.Image)
			if digest == "" && (tag == "" || tag == "latest") {
				p.Report(st.From.Path, "base image %q uses %s", st.Image, map[bool]string{true: "the latest tag", false: "no tag"}[tag == "latest"])
			}
		})
	})

var baseNotPinned = dockerControl("DF-BASE-NOT-PINNED", "Base image not pinned by digest", finding.Low,
	"A tag can be moved to other content; only a digest makes the build reproducible and the base image verifiable.",
	"Pin the base image by digest (FROM image:1.2.3@sha256:...) and let a bot update it.",
	[]string{"CIS-Docker:4.2", "NIST:4.1.5", "MITRE:T1525"},
	func(p *control.Pass, d *df.Dockerfile) {
		bases(d, func(st *df.Stage) {
			if tag, digest := image.Tag(st.Image); digest == "" && tag != "" && tag != "latest" {
				p.Report(st.From.Path, "base image %q is not pinned by digest", st.Image)
			}
		})
	})

var addRemote = dockerControl("DF-ADD-REMOTE", "ADD fetches a remote URL", finding.Medium,
	"ADD with a URL downloads content at build time without verifying it; a compromised server ships into the image.",
	"Download with RUN curl and verify a checksum, or use ADD --checksum=sha256:..., or COPY from a verified build stage.",
	[]string{"CIS-Docker:4.9", "NIST:4.1.3", "MITRE:T1195.002"},
	func(p *control.Pass, d *df.Dockerfile) {
		for _, st := range d.Stages {
			for _, in := range st.Instructions {
				if in.Cmd != "add" || hasFlag(in, "--checksum") {
					continue
				}
				for _, a := range in.Args[:max(0, len(in.Args)-1)] {
					if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "git@") {
						p.Report(in.Path, "ADD fetches %s without a checksum", a)
					}
				}
			}
		}
	})

func hasFlag(in df.Instruction, name string) bool {
	for _, f := range in.Flags {
		if strings.HasPrefix(f, name) {
			return true
		}
	}
	return false
}

var secretEnv = dockerControl("DF-SECRET", "Secret in the Dockerfile", finding.High,
	"ENV and ARG values, and every instruction line, are stored in the image's layers and history: anyone who can pull "+
		"the image can read them. Detection uses the gitleaks rule set plus credential-like ENV/ARG names with literal values.",
	"Pass secrets at build time with RUN --mount=type=secret and at run time from a Kubernetes Secret; rotate what was committed.",
	[]string{"CIS-Docker:4.10", "NIST:4.1.4", "MITRE:T1552.001"},
	func(p *control.Pass, d *df.Dockerfile) {
		all := append([]df.Instruction{}, d.Args...)
		for _, st := range d.Stages {
			all = append(all, st.Instructions...)
		}
		for _, in := range all {
			if in.Cmd != "env" && in.Cmd != "arg" {
				// tokens in RUN, LABEL, ... lines: format rules only
				for _, l := range secrets.ScanText(in.Original) {
					p.Report(in.Path, "%s holds a credential (rule %s: %s)", strings.ToUpper(in.Cmd), l.Rule, secrets.Redact(l.Secret))
				}
				continue
			}
			kvs := keyValues(in)
			pairs := make([]secrets.Pair, len(kvs))
			for i, kv := range kvs {
				pairs[i] = secrets.Pair{Name: kv[0], Value: kv[1]}
			}
			for _, l := range secrets.ScanPairs(pairs, true) {
				p.Report(in.Path, "%s %s holds a credential (rule %s: %s)", strings.ToUpper(in.Cmd), kvs[l.Index][0], l.Rule, secrets.Redact(l.Secret))
			}
		}
	})

func init() { secretEnv.Prepare = secrets.Prepare }

// keyValues returns the name/value pairs of ENV (pairs of arguments) and
// ARG (name=value) instructions.
func keyValues(in df.Instruction) [][2]string {
	var out [][2]string
	if in.Cmd == "env" {
		for i := 0; i+1 < len(in.Args); i += 2 {
			out = append(out, [2]string{in.Args[i], in.Args[i+1]})
		}
		return out
	}
	for _, a := range in.Args {
		if k, v, ok := strings.Cut(a, "="); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

var curlPipeRE = regexp.MustCompile(`\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b`)

var curlPipe = dockerControl("DF-CURL-PIPE", "Remote script piped into a shell", finding.High,
	"curl ... | sh runs whatever the server returns at build time, unverified; a compromised or spoofed server owns the image.",
	"Download the script, verify its checksum or signature, then run it; or install from a package manager.",
	[]string{"CIS-Docker:4.11", "NIST:4.1.3", "MITRE:T1195.002"},
	func(p *control.Pass, d *df.Dockerfile) {
		for _, in := range runs(d.Stages...) {
			if curlPipeRE.MatchString(text(in)) {
				p.Report(in.Path+".download", "RUN pipes a download into a shell")
			}
		}
	})

var (
	aptInstallRE = regexp.MustCompile(`\bapt(-get)?\s+(-\S+\s+)*install\b([^;&|]*)`)
	apkAddRE     = regexp.MustCompile(`\bapk\s+(-\S+\s+)*add\b([^;&|]*)`)
)

// unpinned returns the packages of an install command without a version.
func unpinned(args string, sep string) []string {
	var out []string
	for _, f := range strings.Fields(args) {
		if strings.HasPrefix(f, "-") || strings.ContainsAny(f, "\\$") {
			continue
		}
		if !strings.Contains(f, sep) {
			out = append(out, f)
		}
	}
	return out
}

var pkgUnpinned = dockerControl("DF-PKG-UNPINNED", "Packages installed without versions", finding.Low,
	"Unpinned packages make the image depend on the day it was built; a rebuild silently pulls other (possibly vulnerable) versions.",
	"Pin versions (apt-get install pkg=1.2.3-1, apk add pkg=1.2.3-r0), or rebuild from a pinned base on a schedule and scan each build.",
	[]string{"CIS-Docker:4.3", "NIST:4.1.1"},
	func(p *control.Pass, d *df.Dockerfile) {
		for _, in := range runs(d.Stages...) {
			t := text(in)
			var pkgs []string
			for _, m := range aptInstallRE.FindAllStringSubmatch(t, -1) {
				pkgs = append(pkgs, unpinned(m[3], "=")...)
			}
			for _, m := range apkAddRE.FindAllStringSubmatch(t, -1) {
				pkgs = append(pkgs, unpinned(m[2], "=")...)
			}
			if len(pkgs) > 0 {
				p.Report(in.Path+".versions", "RUN installs %s without a version", strings.Join(pkgs, ", "))
			}
		}
	})

var pkgCache = dockerControl("DF-PKG-CACHE", "Package manager cache left in the image", finding.Low,
	"Package indexes and caches add megabytes and stale metadata to every layer that installs packages.",
	"Use apk add --no-cache, or clean up in the same RUN: apt-get install ... && rm -rf /var/lib/apt/lists/*.",
	[]string{"CIS-Docker:4.7", "NIST:4.1.2"},
	func(p *control.Pass, d *df.Dockerfile) {
		for _, in := range runs(d.Stages...) {
			t := text(in)
			if aptInstallRE.MatchString(t) && !strings.Contains(t, "/var/lib/apt/lists") && !hasFlag(in, "--mount=type=cache") {
				p.Report(in.Path+".cache", "RUN installs with apt without removing /var/lib/apt/lists")
			}
			if apkAddRE.MatchString(t) && !strings.Contains(t, "--no-cache") && !strings.Contains(t, "/var/cache/apk") && !hasFlag(in, "--mount=type=cache") {
				p.Report(in.Path+".cache", "RUN installs with apk without --no-cache")
			}
		}
	})

var sudoRE = regexp.MustCompile(`(^|[\s;&|(])sudo(\s|$)`)

var sudo = dockerControl("DF-SUDO", "sudo in the image build", finding.Medium,
	"sudo in a Dockerfile means the image ships a setuid escalation path, and its users expect to become root at run time.",
	"Run build steps as root before the final USER instruction and do not install sudo.",
	[]string{"CIS-Docker:4.1", "NIST:4.4.3", "MITRE:T1548.003"},
	func(p *control.Pass, d *df.Dockerfile) {
		for _, in := range runs(d.Stages...) {
			if sudoRE.MatchString(text(in)) {
				p.Report(in.Path+".sudo", "RUN uses sudo")
			}
		}
	})

var exposeSSH = dockerControl("DF-EXPOSE-SSH", "Image exposes SSH", finding.Medium,
	"An SSH server in a container is a second, unaudited way in that bypasses the orchestrator's access control.",
	"Remove the SSH server and EXPOSE 22; use kubectl exec or debug containers.",
	[]string{"CIS-Docker:4.3", "NIST:4.4.2", "MITRE:T1021.004"},
	func(p *control.Pass, d *df.Dockerfile) {
		for _, st := range d.Stages {
			for _, in := range st.Instructions {
				if in.Cmd != "expose" {
					continue
				}
				for _, a := range in.Args {
					if port, _, _ := strings.Cut(a, "/"); port == "22" || port == "2222" {
						p.Report(in.Path, "EXPOSE %s (SSH)", a)
					}
				}
			}
		}
	})

var noHealthcheck = dockerControl("DF-NO-HEALTHCHECK", "No HEALTHCHECK", finding.Info,
	"A HEALTHCHECK documents how to tell the image is healthy; outside Kubernetes (which uses probes instead) it lets the runtime restart a hung container.",
	"Add HEALTHCHECK CMD ... to the final stage, or HEALTHCHECK NONE to state that probes are defined elsewhere.",
	[]string{"CIS-Docker:4.6", "NIST:4.4.4"},
	func(p *control.Pass, d *df.Dockerfile) {
		st := d.Final()
		for _, in := range st.Instructions {
			if in.Cmd == "healthcheck" {
				return
			}
		}
		p.Report(st.From.Path+".healthcheck", "the final stage defines no HEALTHCHECK")
	})

// buildTools are packages that compile or fetch code and have no business
// in a runtime image.
var buildToolsRE = regexp.MustCompile(`\b(build-essential|gcc|g\+\+|make|cmake|golang|maven|gradle|git|autoconf|automake|libtool|clang)\b`)

var buildToolsInFinal = dockerControl("DF-BUILD-TOOLS-FINAL", "Build tools in the final image", finding.Low,
	"Compilers and build tools in the runtime image enlarge the attack surface: an attacker who gets in can build and fetch tools on the spot.",
	"Use a multi-stage build: compile in a builder stage and COPY --from=builder only the artefacts into a minimal final stage.",
	[]string{"CIS-Docker:4.3", "NIST:4.1.2"},
	func(p *control.Pass, d *df.Dockerfile) {
		st := d.Final()
		for _, in := range runs(*st) {
			t := text(in)
			for _, m := range append(aptInstallRE.FindAllStringSubmatch(t, -1), apkAddRE.FindAllStringSubmatch(t, -1)...) {
				if tool := buildToolsRE.FindString(m[len(m)-1]); tool != "" {
					p.Report(in.Path+".tools", "the final stage installs %s; build in an earlier stage instead", tool)
					break
				}
			}
		}
	})
