package cli

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeguard/kubeguard/internal/testcluster"
)

// docCommand is a kubeguard command shown in the documentation, with the
// output shown after it ("..." elides lines).
type docCommand struct {
	where  string // file:line
	line   string // as written, pipes and all
	output []string
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	// placeholders in inline mentions: REPO@sha256:..., ID, [--flag X]
	placeholder = regexp.MustCompile(`\.\.\.|[\[\]]|(^|\s)[A-Z][A-Z0-9_]*(\s|$|@)`)
)

// docCommands returns the kubeguard commands of a Markdown file: every
// command line of a fenced block (after "$ " when the block shows output),
// and inline code that is a complete command.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docCommand
	inBlock, shell := false, false
	var cur *docCommand
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		where := path + ":" + strconv.Itoa(n)
		if strings.HasPrefix(line, "```") {
			inBlock, shell, cur = !inBlock, strings.TrimPrefix(line, "```") == "sh", nil
			continue
		}
		if inBlock {
			switch {
			case strings.HasPrefix(line, "$ "):
				out = append(out, docCommand{where: where, line: strings.TrimPrefix(line, "$ ")})
				cur = &out[len(out)-1]
			case cur != nil:
				cur.output = append(cur.output, line)
			case shell:
				cmd, _, _ := strings.Cut(line, "  #")
				if cmd = strings.TrimSpace(cmd); strings.Contains(cmd, "kubeguard") {
					out = append(out, docCommand{where: where, line: cmd})
				}
			}
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			cmd := m[1]
			if strings.HasPrefix(cmd, "kubeguard ") && !placeholder.MatchString(strings.TrimPrefix(cmd, "kubeguard ")) {
				out = append(out, docCommand{where: where, line: cmd})
			}
		}
	}
	return out
}

// longRunning are commands that serve until stopped, whatever their flags;
// their flags and behaviour are tested elsewhere (webhook and controller
// tests).
var longRunning = map[string]bool{"webhook": true, "controller": true, "audit serve": true, "dashboard": true}

// networked are commands that reach the internet, which tests do not:
// TestDBUpdateAndStatus runs db update against a mirror on loopback.
var networked = map[string]bool{"db update": true}

// TestDocsCommands runs every kubeguard command shown in README.md and
// docs/ on the files it names, from the repository root: commands on a
// live cluster run against the test cluster, a kubectl apply before them
// is applied to it. None may end in a usage or input error (exit 2), and
// the output shown must appear, in order.
func TestDocsCommands(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var cmds []docCommand
	for _, f := range files {
		cmds = append(cmds, docCommands(t, f)...)
	}
	if len(cmds) < 15 {
		t.Fatalf("found only %d documented commands", len(cmds))
	}
	t.Chdir(root)
	t.Setenv("KUBEGUARD_DB", t.TempDir()) // db import fills it for the image commands after it
	var kubeconfig string
	var dyn dynamic.Interface
	cluster := func() {
		if kubeconfig != "" {
			return
		}
		c := testcluster.Shared(t)
		kubeconfig = c.Kubeconfig
		t.Setenv("KUBECONFIG", kubeconfig)
		rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		dyn = dynamic.NewForConfigOrDie(rc)
	}
	ran := 0
	for _, c := range cmds {
		for _, seg := range strings.Split(c.line, "&&") {
			seg, _, _ = strings.Cut(seg, "|")
			seg, _, _ = strings.Cut(seg, ">")
			args := strings.Fields(seg)
			for i, a := range args { // quoted as a shell needs it: 'RBAC-*'
				if len(a) >= 2 && (a[0] == '\'' || a[0] == '"') && a[len(a)-1] == a[0] {
					args[i] = a[1 : len(a)-1]
				}
			}
			switch {
			case len(args) >= 3 && args[0] == "kubectl" && args[1] == "apply" && args[2] == "-f":
				cluster()
				var manifests []string
				for _, p := range args[3:] {
					matches, _ := filepath.Glob(filepath.Join(p, "*.yaml"))
					if len(matches) == 0 {
						matches = []string{p}
					}
					for _, m := range matches {
						data, err := os.ReadFile(m)
						if err != nil {
							t.Fatalf("%s: %v", c.where, err)
						}
						manifests = append(manifests, string(data))
					}
				}
				applyIdempotent(t, dyn, strings.Join(manifests, "\n---\n"))
				continue
			case len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/kubeguard":
				args = args[3:]
			case len(args) > 0 && args[0] == "kubeguard":
				args = args[1:]
			default:
				continue // make, dot and the like
			}
			if longRunning[args[0]] || len(args) >= 2 && (networked[args[0]+" "+args[1]] || longRunning[args[0]+" "+args[1]]) {
				continue
			}
			for _, a := range args {
				if a == "--cluster" || args[0] == "cluster" {
					cluster()
				}
			}
			ran++
			code, out, errOut := run(t, "", args...)
			if code == ExitError {
				t.Errorf("%s: kubeguard %s: exit 2\n%s%s", c.where, strings.Join(args, " "), out, errOut)
				continue
			}
			if missing := missingLines(out, c.output); missing != "" {
				t.Errorf("%s: kubeguard %s: output lacks %q; got\n%s", c.where, strings.Join(args, " "), missing, out)
			}
		}
	}
	t.Logf("%d documented commands run", ran)
}

// missingLines returns the first documented line (whitespace collapsed)
// that does not appear in out after the previous one, or "".
func missingLines(out string, want []string) string {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var got []string
	for _, l := range strings.Split(out, "\n") {
		got = append(got, norm(l))
	}
	i := 0
	for _, w := range want {
		w = norm(w)
		if w == "" || w == "..." {
			continue
		}
		for i < len(got) && got[i] != w {
			i++
		}
		if i == len(got) {
			return w
		}
		i++
	}
	return ""
}

// applyIdempotent creates objects as kubectl apply would on a cluster that
// may hold them already (the tests share one).
func applyIdempotent(t *testing.T, dyn dynamic.Interface, manifests string) {
	t.Helper()
	objs, err := testcluster.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		ri := testcluster.Resource(dyn, u)
		if _, err := ri.Create(context.Background(), u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		// as kubectl wait --for condition=Established would
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got, err := ri.Get(context.Background(), u.GetName(), metav1.GetOptions{})
			if err == nil && testcluster.Established(got.Object) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CustomResourceDefinition %s not established", u.GetName())
			}
		}
	}
}
