package intern

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"unsafe"
)

func TestBytes(t *testing.T) {
	tab := New()
	buf := []byte("container app: image nginx has no tag")
	a := tab.Bytes(buf)
	copy(buf, "CONTAINER") // the buffer is reused: a must not change
	if a != "container app: image nginx has no tag" {
		t.Fatalf("Bytes kept the caller's buffer: %q", a)
	}
	b := tab.Bytes([]byte("container app: image nginx has no tag"))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the same message was built twice")
	}
	if c := tab.Bytes(buf); c != "CONTAINER app: image nginx has no tag" {
		t.Errorf("Bytes after the buffer changed: %q", c)
	}
	if s := tab.Bytes(nil); s != "" {
		t.Errorf("Bytes(nil) = %q", s)
	}
}

func TestJoin(t *testing.T) {
	tab := New()
	buf := []byte("spec.template.spec.containers[0]")
	base := unsafe.String(&buf[0], len(buf)) // as the decoder's strings alias files
	a := tab.Join(base, "securityContext")
	buf[len(buf)-2] = '9' // the buffer is reused: the table must not see it
	b := tab.Join("spec.template.spec.containers[0]", "securityContext")
	if a != "spec.template.spec.containers[0].securityContext" || a != b {
		t.Fatalf("Join: %q, %q", a, b)
	}
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the same path was built twice")
	}
	if c := tab.Join(base, "securityContext"); c != "spec.template.spec.containers[9].securityContext" {
		t.Errorf("Join after the buffer changed: %q", c)
	}
	// "a.b" + "c" and "a" + "b.c" are the same path
	if got := tab.Join("a", "b.c"); got != "a.b.c" {
		t.Errorf("Join: %q", got)
	}
	if got := tab.Join("a.b", "c"); got != "a.b.c" {
		t.Errorf("Join: %q", got)
	}
}

// Far more distinct strings than slots, from several goroutines: every
// answer is right, and repeated strings are shared.
func TestEvictionStaysRight(t *testing.T) {
	tab := New()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 * slots {
				want := fmt.Sprint("container \"c", (i*7+g)%(3*slots), "\" sets no cpu limit")
				if got := tab.Bytes([]byte(want)); got != want {
					t.Errorf("Bytes(%q) = %q", want, got)
					return
				}
				if got := tab.Join("spec", want); got != "spec."+want {
					t.Errorf("Join = %q", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	x := tab.Bytes([]byte("pod does not set hostUsers: false"))
	y := tab.Bytes([]byte("pod does not set hostUsers: false"))
	if unsafe.StringData(x) != unsafe.StringData(y) {
		t.Error("a repeated message was not shared")
	}
}

// Two strings whose hashes pick the same pair of slots both stay: a scan
// whose few messages met in one slot built them again at every finding.
func TestCollidingStringsBothStay(t *testing.T) {
	tab := New()
	first := map[uint64]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		s := fmt.Sprint("message ", i)
		pair := maphash.String(tab.seed, s) & (slots - 1) &^ 1
		if o, ok := first[pair]; ok {
			a, b = o, s
		}
		first[pair] = s
	}
	x, y := tab.Bytes([]byte(a)), tab.Bytes([]byte(b))
	for range 3 {
		if p := tab.Bytes([]byte(a)); unsafe.StringData(p) != unsafe.StringData(x) {
			t.Fatalf("%q was built again", a)
		}
		if p := tab.Bytes([]byte(b)); unsafe.StringData(p) != unsafe.StringData(y) {
			t.Fatalf("%q was built again", b)
		}
	}
}

// Goroutines that add the same new string at once get one copy.
func TestRacingAddsShareOneCopy(t *testing.T) {
	for round := range 200 {
		tab := New()
		msg := fmt.Sprint("container \"app\" round ", round)
		got := make([]string, 8)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[g] = tab.Bytes([]byte(msg))
			}()
		}
		close(start)
		wg.Wait()
		for _, s := range got[1:] {
			if unsafe.StringData(s) != unsafe.StringData(got[0]) {
				t.Fatalf("round %d: %q held twice", round, msg)
			}
		}
	}
}
