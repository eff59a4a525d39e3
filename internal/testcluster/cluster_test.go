package testcluster

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// The cluster reports the pinned release and serves authenticated,
// RBAC-authorized requests.
func TestClusterServesPinnedVersion(t *testing.T) {
	c := Shared(t)
	get := func(path, token string) *http.Response {
		req, _ := http.NewRequest("GET", c.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.AdminHTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	var v struct{ GitVersion string }
	if err := json.NewDecoder(get("/version", AdminToken).Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != c.Version {
		t.Errorf("/version reports %q, want the pinned %q", v.GitVersion, c.Version)
	}
	if r := get("/api/v1/namespaces/kube-system", AdminToken); r.StatusCode != http.StatusOK {
		t.Errorf("admin GET namespace: %s", r.Status)
	}
	// Anonymous requests are authenticated as system:anonymous, which RBAC
	// does not allow to read namespaces.
	if r := get("/api/v1/namespaces/kube-system", ""); r.StatusCode != http.StatusForbidden && r.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET namespace: %s, want 401 or 403", r.Status)
	}
}
