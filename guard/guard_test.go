package guard

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const diffWithKey = `diff --git a/config/prod.env b/config/prod.env
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/config/prod.env
@@ -0,0 +1,3 @@
+REGION=eu-west-1
+AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD
+DEBUG=false
diff --git a/main.go b/main.go
index 2222222..3333333 100644
--- a/main.go
+++ b/main.go
@@ -10,3 +10,4 @@ func main() {
 	a := 1
+	b := 2
 	c := 3
`

func TestAnAddedAWSKeyIsFoundWithItsLineButNotShown(t *testing.T) {
	s, err := DefaultScanner()
	if err != nil {
		t.Fatal(err)
	}
	found := secrets(t, s, []byte(diffWithKey))
	if len(found) != 1 || found[0].Path != "config/prod.env" || found[0].Line != 2 || found[0].Rule == "" {
		t.Fatalf("findings %+v", found)
	}
	if strings.Contains(found[0].String(), "AKIA") {
		t.Fatalf("the finding shows the secret: %s", found[0])
	}
}

// addition is a diff that adds lines as a new file at path.
func addition(path string, lines ...string) []byte {
	diff := fmt.Sprintf("diff --git a/%[1]s b/%[1]s\nnew file mode 100644\n--- /dev/null\n+++ b/%[1]s\n@@ -0,0 +1,%[2]d @@\n", path, len(lines))
	for _, l := range lines {
		diff += "+" + l + "\n"
	}
	return []byte(diff)
}

func TestAKeyIsFoundInFilesGitleaksWouldSkipByName(t *testing.T) {
	s := mustScanner(t)
	for _, path := range []string{"go.sum", "assets/logo.svg", "package-lock.json", "node_modules/left-pad/index.js",
		"vendor/modules.txt", "gitleaks.toml", "docs/guide.pdf"} {
		found := secrets(t, s, addition(path, "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD"))
		if len(found) != 1 || found[0].Path != path {
			t.Errorf("%s: findings %+v", path, found)
		}
	}
}

func TestModuleChecksumsInGoSumAreNotTakenForCredentials(t *testing.T) {
	s := mustScanner(t)
	// Real lines, whose checksums gitleaks takes for keys: the modules'
	// names hold "token" and "oauth".
	sums := []string{
		"github.com/tiktoken-go/tokenizer v0.10.0 h1:xcMbdR1D/rTF2/yEj1GQg3/jl5D9n5aQ546mr32di/w=",
		"golang.org/x/oauth2 v0.25.0 h1:CY4y7XT9v0cRI9oupztF8AgiIu99L/ksR/Xp/6jrZ70=",
		"modernc.org/token v1.1.0 h1:Xl7Ap9dKaEs5kLoOQeQmPWevfnk/DM5qcLcYlA8ys6Y=",
	}
	for _, path := range []string{"go.sum", "tools/go.work.sum"} {
		if found := secrets(t, s, addition(path, sums...)); len(found) != 0 {
			t.Errorf("%s: findings %+v, want none", path, found)
		}
	}
	// Anything beside a checksum is scanned, and so is a checksum in
	// another file.
	withKey := append(slices.Clone(sums), sums[1]+" "+githubToken)
	if found := secrets(t, s, addition("go.sum", withKey...)); len(found) == 0 || !slices.ContainsFunc(found, func(f Finding) bool {
		return f.Line == 4 && f.Rule == "github-pat"
	}) {
		t.Errorf("a token after a checksum: findings %+v, want it on line 4", found)
	}
	if found := secrets(t, s, addition("notes.txt", sums...)); len(found) == 0 {
		t.Error("checksums in notes.txt: no findings, want them scanned as anything else")
	}
}

// githubToken looks like a GitHub personal access token.
const githubToken = "ghp_R3aLk3yW1thEntr0pyAbCdEfGhIjKlMnOp12"

func TestNothingInTheChangeTurnsTheScannerOff(t *testing.T) {
	s := mustScanner(t)
	for _, change := range []struct{ path, line string }{
		// gitleaks' comment that lets a line vouch for itself.
		{"config/prod.env", "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD # gitleaks:allow"},
		// A path a rule's own allow-list skips.
		{"docs/@octokit/auth-token/README.md", githubToken},
		// Words a rule's allow-list skips the whole line for.
		{"settings.py", `db_password = "Xk29fjQm3LpZ8vTqW7" # --mount=type=secret,`},
		{"db.js", `import { db } from 'db'; const apiSecret = "Xk29fjQm3LpZ8vTqW7"`},
	} {
		if found := secrets(t, s, addition(change.path, change.line)); len(found) != 1 {
			t.Errorf("%s: %q: findings %+v", change.path, change.line, found)
		}
	}
}

func TestAnEncodedKeyIsFound(t *testing.T) {
	s := mustScanner(t)
	for name, blob := range map[string]string{
		"base64":               base64.StdEncoding.EncodeToString([]byte(githubToken)),
		"hex":                  fmt.Sprintf("%x", githubToken),
		"base64 of an AWS key": base64.StdEncoding.EncodeToString([]byte("AKIAZ7VRSQ4TLWXJ3KPD")),
	} {
		if found := secrets(t, s, addition("blob.go", `var blob = "`+blob+`"`)); len(found) == 0 || found[0].Line != 1 {
			t.Errorf("%s: findings %+v", name, found)
		}
	}
}

func TestACredentialInAFilesNameIsFound(t *testing.T) {
	s := mustScanner(t)
	found := names(t, s, githubToken+".txt", "keys/AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD/x", "main.go")
	if len(found) != 2 || found[0].Path != "***.txt" || !strings.Contains(found[1].String(), "its name looks like a credential") {
		t.Fatalf("findings %+v", found)
	}
	if shown := found[0].String() + found[1].String(); strings.Contains(shown, githubToken) || strings.Contains(shown, "AKIAZ7VRSQ4TLWXJ3KPD") {
		t.Fatalf("the findings show the credentials: %s", shown)
	}
}

// An encoded credential is found by decoding a run of characters; in a
// path, the run goes on across "/" and "-" into what is not encoded, and
// decodes to nothing unless the name's parts are scanned too. The name
// shown is masked where the encoded credential was, not the decoded one,
// which never appears in it.
func TestAnEncodedCredentialInAPartOfAFilesNameIsFoundAndMasked(t *testing.T) {
	s := mustScanner(t)
	hexed := fmt.Sprintf("%x", githubToken)
	encoded := base64.StdEncoding.EncodeToString([]byte(githubToken))
	for _, name := range []string{
		"dir/" + hexed,
		"src/key-" + hexed + ".txt",
		"x/" + encoded + ".txt",
		"docs/" + encoded,
	} {
		found := names(t, s, name)
		if len(found) != 1 {
			t.Errorf("%s: findings %+v", name, found)
			continue
		}
		shown := found[0].Path
		if strings.Contains(shown, hexed) || strings.Contains(shown, encoded) || !strings.Contains(shown, "***") {
			t.Errorf("%s: shown as %q", name, shown)
		}
		if masked := s.MaskPath(name); masked != shown {
			t.Errorf("%s: masked as %q, found as %q", name, masked, shown)
		}
	}
}

func TestAKeyOnALineWithNulBytesIsFound(t *testing.T) {
	s := mustScanner(t)
	found := secrets(t, s, addition("data.dat", "\x00\x01\x02", "\x00AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\x00"))
	if len(found) != 1 || found[0].Line != 2 {
		t.Fatalf("findings %+v", found)
	}
}

func TestGitleaksAllowListOfValuesStays(t *testing.T) {
	s := mustScanner(t)
	// Its stop words: an example value spelled as the alphabet is not a
	// secret, whatever the file.
	if found := secrets(t, s, addition("deploy/app.env", `api_key = "abcdefghijklmnopqrstuvwxyz0123456789"`)); len(found) != 0 {
		t.Fatalf("findings %+v", found)
	}
}

func TestRemovedAndUnchangedLinesAreNotScanned(t *testing.T) {
	s := mustScanner(t)
	header := "diff --git a/prod.env b/prod.env\n--- a/prod.env\n+++ b/prod.env\n"
	for name, hunk := range map[string]string{
		"removed":   "@@ -1,3 +1,2 @@\n REGION=eu-west-1\n-AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n DEBUG=false\n",
		"unchanged": "@@ -1,3 +1,4 @@\n REGION=eu-west-1\n AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n+DEBUG=true\n DEBUG=false\n",
	} {
		if found := secrets(t, s, []byte(header+hunk)); len(found) != 0 {
			t.Errorf("a key on a %s line was flagged: %+v", name, found)
		}
	}
}

func TestAVeryLongLineDoesNotHideTheFilesAfterIt(t *testing.T) {
	s := mustScanner(t)
	long := "diff --git a/data.txt b/data.txt\n--- /dev/null\n+++ b/data.txt\n@@ -0,0 +1 @@\n+" +
		strings.Repeat("x", 17<<20) + "\n"
	found := secrets(t, s, []byte(long+diffWithKey))
	if len(found) != 1 || found[0].Path != "config/prod.env" {
		t.Fatalf("findings %+v", found)
	}
}

func TestAnAddedLineThatLooksLikeAHeaderStaysInItsFile(t *testing.T) {
	s := mustScanner(t)
	diff := "diff --git a/notes.md b/notes.md\n--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1,2 @@\n" +
		"+++ counter\n+AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n"
	found := secrets(t, s, []byte(diff))
	if len(found) != 1 || found[0].Path != "notes.md" || found[0].Line != 2 {
		t.Fatalf("findings %+v", found)
	}
}

func TestOrdinaryCodeHasNoFindings(t *testing.T) {
	s := mustScanner(t)
	diff := "--- a/x.go\n+++ b/x.go\n@@ -1,1 +1,2 @@\n package x\n+func Key() string { return os.Getenv(\"API_KEY\") }\n"
	if found := secrets(t, s, []byte(diff)); len(found) != 0 {
		t.Fatalf("findings %+v", found)
	}
}

func TestHunkLineNumbers(t *testing.T) {
	got := addedLines([]byte(diffWithKey))
	if len(got) != 2 || got[1].path != "main.go" || got[1].numbers[0] != 11 {
		t.Fatalf("%+v", got)
	}
}

func TestProtectedListsOnlyProtectedPaths(t *testing.T) {
	isProtected := func(p string) bool { return strings.HasPrefix(p, ".github/workflows/") }
	found := Protected([]string{"main.go", ".github/workflows/ci.yml"}, isProtected)
	if len(found) != 1 || found[0].Path != ".github/workflows/ci.yml" {
		t.Fatalf("%+v", found)
	}
}

func TestAKeyFileIsFoundByItsNameWhateverCharactersTheNameHas(t *testing.T) {
	s := mustScanner(t)
	// A PKCS#12 file is a key whatever it holds: gitleaks knows it by its
	// path alone. The second name starts with a Cyrillic letter.
	found := names(t, s, "cert.p12", "сert.p12", "main.go")
	if len(found) != 2 {
		t.Fatalf("findings %+v", found)
	}
}

func TestAFileGitQuotesTheNameOfIsScannedUnderItsName(t *testing.T) {
	s := mustScanner(t)
	// git writes a name with bytes outside ASCII quoted, in octal.
	diff := "diff --git \"a/\\321\\201onfig.env\" \"b/\\321\\201onfig.env\"\nnew file mode 100644\n--- /dev/null\n" +
		"+++ \"b/\\321\\201onfig.env\"\n@@ -0,0 +1 @@\n+AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n"
	found := secrets(t, s, []byte(diff))
	if len(found) != 1 || found[0].Path != "сonfig.env" {
		t.Fatalf("findings %+v", found)
	}
	// A name with a space ends in a tab, quoted or not.
	for header, want := range map[string]string{"+++ b/my config.env\t": "my config.env", "+++ \"b/my \\321\\201onfig.env\"\t": "my сonfig.env"} {
		found := secrets(t, s, []byte("--- /dev/null\n"+header+"\n@@ -0,0 +1 @@\n+AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n"))
		if len(found) != 1 || found[0].Path != want {
			t.Errorf("%q: findings %+v, want %q", header, found, want)
		}
	}
}

func TestTheValueOfASecretTheBotKnowsIsFoundInTheChange(t *testing.T) {
	const secret = "gw_7f3c1d2e9a8b"
	forms := map[string][]string{"GW_TOKEN": {secret, base64.StdEncoding.EncodeToString([]byte(secret))}}
	diff := append(addition("fixture.txt", "token: "+secret), addition("k8s.yml", "data: "+forms["GW_TOKEN"][1])...)
	diff = append(diff, addition("clean.txt", "nothing here")...)
	found := Values([]string{"fixture.txt", "k8s.yml", "clean.txt", "keys/" + secret + ".txt"}, diff, forms)
	var got []string
	for _, f := range found {
		got = append(got, f.String())
		if strings.Contains(f.String(), "7f3c") {
			t.Fatalf("the finding shows the secret: %s", f)
		}
	}
	want := []string{
		"keys/***.txt: its name looks like a credential (the value of GW_TOKEN)",
		"fixture.txt, line 1: looks like a credential (the value of GW_TOKEN)",
		"k8s.yml, line 1: looks like a credential (the value of GW_TOKEN)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n%q\nwant\n%q", got, want)
	}
}

func TestTheValueOfASecretTheBotKnowsIsFoundWrappedOverLines(t *testing.T) {
	const secret = "sk-ant-api03-Xk29fjQm3LpZ8vTqW7Xk29fjQm3LpZ8vTqW7Xk29fjQm3LpZ8vTqW7Xk29fjQm3LpZ8vTqW7Xk29fjQm3LpZ8vTqW7AA"
	encoded := base64.StdEncoding.EncodeToString([]byte(secret + "\n"))
	forms := map[string][]string{"LLM_KEY": {secret, base64.StdEncoding.EncodeToString([]byte(secret))}}
	// As base64(1) writes it, 76 columns a line, after a line of its own.
	lines := []string{"# the key, for later"}
	for len(encoded) > 76 {
		lines, encoded = append(lines, encoded[:76]), encoded[76:]
	}
	lines = append(lines, encoded)
	found := Values([]string{"key.b64"}, addition("key.b64", lines...), forms)
	if len(found) != 1 || found[0].Line != 2 || found[0].Rule != "the value of LLM_KEY" {
		t.Fatalf("findings %+v, want the key on line 2, where it starts", found)
	}
}

func TestLinesApartAreNotJoinedIntoASecret(t *testing.T) {
	const secret = "gw_7f3c1d2e9a8b5c6d"
	forms := map[string][]string{"GW_TOKEN": {secret}}
	// Two hunks, lines 1 and 10: each holds half of the value, and no text
	// in the file holds it whole.
	diff := "diff --git a/notes.txt b/notes.txt\n--- a/notes.txt\n+++ b/notes.txt\n" +
		"@@ -1,0 +1,1 @@\n+" + secret[:9] + "\n" +
		"@@ -9,0 +10,1 @@\n+" + secret[9:] + "\n"
	if found := Values([]string{"notes.txt"}, []byte(diff), forms); len(found) != 0 {
		t.Fatalf("findings %+v, want none: the halves are nine lines apart", found)
	}
}

// secrets scans diff, failing the test on an error.
func secrets(t *testing.T, s *Scanner, diff []byte) []Finding {
	t.Helper()
	found, err := s.Secrets(t.Context(), diff)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// A large file is read in windows: a key is found wherever it falls,
// across a window's edge too, on its own line.
func TestAKeyIsFoundWhereverItFallsInALargeFile(t *testing.T) {
	s := mustScanner(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaBlock := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))), "\n")
	// A PGP key with its subkeys, over 12 KB.
	material := make([]byte, 9<<10)
	rand.Read(material)
	pgpBlock := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PGP PRIVATE KEY BLOCK", Bytes: material}))), "\n")
	filler := func(n int) []string {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = fmt.Sprintf("// filler line %05d, words to pad it out with", i)
		}
		return lines
	}
	perWindow := scanWindow / len(filler(1)[0]) // lines before the first window's end
	for _, tc := range []struct {
		block []string
		at    int
	}{
		{rsaBlock, perWindow - len(rsaBlock) - 5}, {rsaBlock, perWindow - len(rsaBlock)/2}, {rsaBlock, perWindow - 3},
		{rsaBlock, perWindow + 2}, {rsaBlock, 2*perWindow - len(rsaBlock)/2},
		{pgpBlock, perWindow - len(pgpBlock)/2}, {pgpBlock, perWindow - 3}, {pgpBlock, 2*perWindow - len(pgpBlock)/3},
	} {
		block, at := tc.block, tc.at
		lines := append(filler(at), block...)
		lines = append(lines, filler(3*perWindow)...)
		lines = append(lines, "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD")
		found := secrets(t, s, addition("big.txt", lines...))
		want := []Finding{
			{Kind: "secret", Path: "big.txt", Line: at + 1, Rule: "private-key"},
			{Kind: "secret", Path: "big.txt", Line: len(lines), Rule: "aws-access-token"},
		}
		if !slices.Equal(found, want) {
			t.Errorf("key at line %d: findings %+v, want %+v", at+1, found, want)
		}
	}
}

// A key that starts at the end of a line longer than the windows'
// overlap is still read whole by one window.
func TestAKeyAfterAVeryLongLineIsFound(t *testing.T) {
	s := mustScanner(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	block := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))), "\n")
	lines := append([]string{strings.Repeat("x", 130_000) + " " + block[0]}, block[1:]...)
	lines = append(lines, strings.Repeat("y", 200_000))
	found := secrets(t, s, addition("big.txt", lines...))
	if !slices.Contains(found, Finding{Kind: "secret", Path: "big.txt", Line: 1, Rule: "private-key"}) {
		t.Errorf("findings %+v, want the private key on line 1", found)
	}
}

func TestAScanStopsWhenItsContextEnds(t *testing.T) {
	s := mustScanner(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	lines := make([]string, 20_000)
	for i := range lines {
		lines[i] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("line %d of a generated file", i)))
	}
	if found, err := s.Secrets(ctx, addition("generated.txt", lines...)); !errors.Is(err, context.Canceled) || found != nil {
		t.Fatalf("findings %+v, err %v; want the scan stopped", found, err)
	}
}

// BenchmarkSecrets scans base64-like text, the costliest for gitleaks'
// decoding passes, of growing size: MB/s stays level when the cost grows
// with the size alone.
func BenchmarkSecrets(b *testing.B) {
	s, err := DefaultScanner()
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{256 << 10, 1 << 20, 4 << 20} {
		var lines []string
		for n := 0; n < size; n += 77 {
			lines = append(lines, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%056d", n))))
		}
		diff := addition("data.b64", lines...)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(diff)))
			for b.Loop() {
				if _, err := s.Secrets(b.Context(), diff); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// names scans paths' names, failing the test on an error.
func names(t *testing.T, s *Scanner, paths ...string) []Finding {
	t.Helper()
	found, err := s.Names(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// A name of many tiny pieces is scanned whole, not piece by piece: its
// pieces hold no credential, and scanning each would hold the scanner,
// which every task shares, for minutes.
func TestANameOfTinyPiecesIsScannedWhole(t *testing.T) {
	name := strings.Repeat("a.", 2000) + "x"
	if parts := nameParts("dir/" + name); len(parts) != 2 {
		t.Errorf("%d parts of a name of 2,000 tiny pieces, want the path and the name", len(parts))
	}
	if parts := nameParts("keys/ghp_" + strings.Repeat("k", 36) + ".txt"); len(parts) != 3 {
		t.Errorf("parts %v, want the path, the name, and the one piece of the name long enough to hold a key", parts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mustScanner(t).Names(ctx, []string{name}); !errors.Is(err, context.Canceled) {
		t.Errorf("a scan whose context ended: %v", err)
	}
}

// mustScanner is the default scanner, failing the test if it cannot be
// made.
func mustScanner(t *testing.T) *Scanner {
	t.Helper()
	s, err := DefaultScanner()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
