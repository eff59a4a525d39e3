package secrets

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// maySensitive never rules out a name sensitiveName matches, and rules out
// most of those it does not.
func TestMaySensitiveIsNecessary(t *testing.T) {
	names := []string{"DB_PASSWORD", "db_passwd", "PWD", "x_pwd", "ClientSecret", "GITHUB_TOKEN", "api-key", "APIKEY",
		"access_key", "PRIVATE-KEY", "credentials", "AUTH_KEY", "signingKey", "ENCRYPTION_KEY", "\u212aEY_TOKEN",
		"ſecret", "passwörd", "LOG_LEVEL", "HOME", "JAVA_OPTS", strings.Repeat("A", 200) + "_SECRET"}
	// random names over an alphabet that spells every alternative
	const alphabet = "pPaAsSwWoOrRdDkKeEyYtTnNcCiIlLuUvVhHgG_-. \u212aſ"
	letters := []rune(alphabet)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		var b strings.Builder
		for range 3 + r.IntN(14) {
			b.WriteRune(letters[r.IntN(len(letters))])
		}
		names = append(names, b.String())
	}
	ruledOut, matched := 0, 0
	for _, n := range names {
		m := sensitiveName.MatchString(n)
		if m {
			matched++
		}
		if !maySensitive(n) {
			if m {
				t.Fatalf("maySensitive rules out %q, which sensitiveName matches", n)
			}
			ruledOut++
		}
	}
	if matched == 0 || ruledOut < len(names)/2 {
		t.Errorf("%d names, %d matched, %d ruled out early", len(names), matched, ruledOut)
	}
	for _, n := range []string{"DB_PASSWORD", "\u212aEY_TOKEN", "ſecret"} {
		if !sensitiveName.MatchString(n) || !literal(n, "hunter2hunter2") {
			t.Errorf("%s with a literal value is not reported", n)
		}
	}
}
