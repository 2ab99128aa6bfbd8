package guard

import (
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
	found := s.Secrets([]byte(diffWithKey))
	if len(found) != 1 || found[0].Path != "config/prod.env" || found[0].Line != 2 || found[0].Rule == "" {
		t.Fatalf("findings %+v", found)
	}
	if strings.Contains(found[0].String(), "AKIA") {
		t.Fatalf("the finding shows the secret: %s", found[0])
	}
}

func TestRemovedAndUnchangedLinesAreNotScanned(t *testing.T) {
	s, _ := DefaultScanner()
	removal := strings.NewReplacer("+AWS", "-AWS", "+++ b/config/prod.env", "+++ /dev/null").Replace(diffWithKey)
	if found := s.Secrets([]byte(removal)); len(found) != 0 {
		t.Fatalf("a removed key was flagged: %+v", found)
	}
}

func TestOrdinaryCodeHasNoFindings(t *testing.T) {
	s, _ := DefaultScanner()
	diff := "--- a/x.go\n+++ b/x.go\n@@ -1,1 +1,2 @@\n package x\n+func Key() string { return os.Getenv(\"API_KEY\") }\n"
	if found := s.Secrets([]byte(diff)); len(found) != 0 {
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
