package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMaskerCatchesASecretSplitAtEveryPoint(t *testing.T) {
	m := newMasker(map[string]string{"TOKEN": "ghp_abcdef123456"})
	text := "before ghp_abcdef123456 middle ghp_abcdef123456 after"
	want := "before *** middle *** after"
	for cut := 0; cut <= len(text); cut++ {
		for cut2 := cut; cut2 <= len(text); cut2++ {
			var out bytes.Buffer
			s := m.stream(func(p []byte) { out.Write(p) })
			s.Write([]byte(text[:cut]))
			s.Write([]byte(text[cut:cut2]))
			s.Write([]byte(text[cut2:]))
			s.Flush()
			if out.String() != want {
				t.Fatalf("cut at %d and %d: got %q", cut, cut2, out.String())
			}
		}
	}
}

// A secret read from a file keeps its line break; whatever uses it takes
// the value without it.
func TestMaskerCatchesASecretWithoutTheSpaceAroundIt(t *testing.T) {
	m := newMasker(map[string]string{"PW": "s3cr3t-pw\n", "TOKEN": " padded-secret-value "})
	for text, want := range map[string]string{
		"curl -u bot:s3cr3t-pw https://x": "curl -u bot:*** https://x",
		"token=padded-secret-value":       "token=***",
		"echo s3cr3t-pw\n":                "echo ***",
	} {
		if got := string(m.Mask([]byte(text))); got != want {
			t.Errorf("Mask(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestMaskerMasksOverlappingSecretsWholeHoweverTheyAreSplit(t *testing.T) {
	for _, tc := range []struct {
		secrets    map[string]string
		text, want string
	}{
		// One secret begins another.
		{map[string]string{"A": "secret", "B": "secret-long-token"}, "x secret-long-token y secret z", "x *** y *** z"},
		// One lies inside another.
		{map[string]string{"A": "cdefgh", "B": "abcdefghijkl"}, "abcdefghijkl and cdefgh", "*** and ***"},
		// Two overlap: each alone leaves part of the other.
		{map[string]string{"A": "abcdefgh", "B": "efghijkl"}, "<abcdefghijkl>", "<***>"},
	} {
		m := newMasker(tc.secrets)
		if got := string(m.Mask([]byte(tc.text))); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.text, got, tc.want)
		}
		for cut := 0; cut <= len(tc.text); cut++ {
			for cut2 := cut; cut2 <= len(tc.text); cut2++ {
				var out bytes.Buffer
				s := m.stream(func(p []byte) { out.Write(p) })
				s.Write([]byte(tc.text[:cut]))
				s.Write([]byte(tc.text[cut:cut2]))
				s.Write([]byte(tc.text[cut2:]))
				s.Flush()
				if out.String() != tc.want {
					t.Fatalf("%q cut at %d and %d: got %q, want %q", tc.text, cut, cut2, out.String(), tc.want)
				}
			}
		}
	}
}

func TestMaskerReleasesHeldBytesThatTurnOutNotToBeASecret(t *testing.T) {
	m := newMasker(map[string]string{"TOKEN": "secret-value"})
	var out bytes.Buffer
	s := m.stream(func(p []byte) { out.Write(p) })
	s.Write([]byte("a secret-val"))
	if out.String() != "a " {
		t.Fatalf("emitted %q before knowing whether a secret follows", out.String())
	}
	s.Write([]byte("ley thing"))
	if out.String() != "a secret-valley thing" {
		t.Fatalf("got %q", out.String())
	}
}

func TestMaskerPrefersTheLongerOfOverlappingSecrets(t *testing.T) {
	m := newMasker(map[string]string{"A": "password", "B": "password123"})
	if got := string(m.Mask([]byte("x password123 y password z"))); got != "x *** y *** z" {
		t.Fatalf("got %q", got)
	}
}

func TestMaskerWithoutSecretsPassesEverythingAtOnce(t *testing.T) {
	m := newMasker(nil)
	var out bytes.Buffer
	s := m.stream(func(p []byte) { out.Write(p) })
	s.Write([]byte("abc"))
	if out.String() != "abc" {
		t.Fatalf("got %q", out.String())
	}
}

func TestMaskedErrorsAnswerIsButHideWhatTheyWrap(t *testing.T) {
	m := newMasker(map[string]string{"T": "hunter22"})
	err := m.maskError(&fs.PathError{Op: "open", Path: "/sandbox/hunter22", Err: fs.ErrNotExist})
	if strings.Contains(err.Error(), "hunter22") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, is ErrNotExist: %v", err, errors.Is(err, fs.ErrNotExist))
	}
	// Nothing inside is handed back unmasked.
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) || errors.Unwrap(err) != nil {
		t.Fatal("the unmasked error can be had from the masked one")
	}
}

func TestMaskerCatchesASecretInBase64(t *testing.T) {
	const secret = "ghp_abcdef123456"
	m := newMasker(map[string]string{"TOKEN": secret})
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		// Whatever comes before the secret decides where it starts in
		// base64's groups of three bytes.
		for _, before := range []string{"", "x", "xy", "user:", "Authorization: token "} {
			encoded := enc.EncodeToString([]byte(before + secret + "\n"))
			masked := m.MaskString("header " + encoded + " trailer")
			if !strings.Contains(masked, Mask) {
				t.Errorf("%q before: nothing masked in %q", before, masked)
			}
			// What is left decodes to no more than a few of the secret's
			// bytes at either edge.
			for _, part := range strings.Fields(strings.ReplaceAll(masked, Mask, " ")) {
				decoded, _ := enc.DecodeString(part[:len(part)/4*4])
				if strings.Contains(string(decoded), secret[4:len(secret)-4]) {
					t.Errorf("%q before: %q still decodes to the secret", before, masked)
				}
			}
		}
	}
}

// Tools print a secret quoted, in JSON or as Go's %q and Python's repr
// do, or reformat one of several lines: each way is masked.
func TestMaskerCatchesASecretQuotedOrReformatted(t *testing.T) {
	const password = `p"ss\w<r>d&1`
	const key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n"
	const dbPassword = `s3cr3t$Pa"ss-xyz`
	const unicode, tilde = "Pässwort-Ünïcode-2024😀", "user:~pass-word-1"
	m := newMasker(map[string]string{"PASSWORD": password, "KEY": key, "DB_PASSWORD": dbPassword, "UNICODE": unicode, "TILDE": tilde})
	jsonOf := func(s string) string { b, _ := json.Marshal(map[string]string{"v": s}); return string(b) }
	for _, tc := range []struct{ text, want string }{
		{jsonOf(password), `{"v":"` + Mask + `"}`},
		{fmt.Sprintf("%q", password), `"` + Mask + `"`},
		{`declare -x DB_PASSWORD="s3cr3t\$Pa\"ss-xyz"`, `declare -x DB_PASSWORD="` + Mask + `"`}, // export -p
		{jsonOf(key), `{"v":"` + Mask + `"}`},
		// As the tools print them: Python's json.dumps, and bash in the C
		// locale, a sandbox's, printf %q and declare -p.
		{`{"k": "P\u00e4sswort-\u00dcn\u00efcode-2024\ud83d\ude00"}`, `{"k": "` + Mask + `"}`},
		{`declare -- S=$'P\303\244sswort-\303\234n\303\257code-2024\360\237\230\200'`, `declare -- S=$'` + Mask + `'`},
		{`user:\~pass-word-1`, Mask},
		{strings.ReplaceAll(key, "\n", "\r\n"), "-----BEGIN PRIVATE KEY-----\r\n" + Mask + "\r\n" + Mask + "\r\n-----END PRIVATE KEY-----\r\n"},
		{"key: |\n  " + strings.ReplaceAll(strings.TrimSpace(key), "\n", "\n  "), "key: |\n  -----BEGIN PRIVATE KEY-----\n  " + Mask + "\n  " + Mask + "\n  -----END PRIVATE KEY-----"},
	} {
		if got := m.MaskString(tc.text); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.text, got, tc.want)
		}
	}
}

// A credential of several lines holds lines every one of its kind holds:
// masked alone, they would hide ordinary output.
func TestMaskerLeavesTheCommonLinesOfASecretOfSeveralLinesAlone(t *testing.T) {
	const account = `{
  "type": "service_account",
  "token_uri": "https://oauth2.googleapis.com/token",
  "private_key_id": "0123456789abcdef0123456789abcdef01234567"
}`
	m := newMasker(map[string]string{"GOOGLE_CREDENTIALS": account})
	for _, text := range []string{`  "type": "service_account",`, `"token_uri": "https://oauth2.googleapis.com/token",`, "-----BEGIN PRIVATE KEY-----"} {
		if got := m.MaskString(text); got != text {
			t.Errorf("%q masked as %q", text, got)
		}
	}
	if got := m.MaskString(account); got != Mask {
		t.Errorf("the whole credential masked as %q", got)
	}
}

// A line of a secret that names its value ("token: ...") is masked by
// the value wherever it is printed alone, as is each line of a key a
// JSON string holds.
func TestMaskerCatchesTheValuesInASecretOfSeveralLines(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ik5xN3cifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlX2lzX2hlcmU"
	kubeconfig := "apiVersion: v1\nusers:\n- name: ci\n  user:\n    token: " + token + "\n"
	const keyLine = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
	account := `{"type": "service_account",` + "\n" + `"private_key": "-----BEGIN PRIVATE KEY-----\n` + keyLine + `\n-----END PRIVATE KEY-----\n"}`
	// A name with a colon of its own, as .npmrc's.
	const npmToken = "npm_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
	npmrc := "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=" + npmToken + "\nalways-auth=true\n"
	m := newMasker(map[string]string{"KUBECONFIG_DATA": kubeconfig, "GOOGLE_CREDENTIALS": account, "NPMRC": npmrc})
	for text, want := range map[string]string{
		"Authorization: Bearer " + npmToken:    "Authorization: Bearer " + Mask,
		"registry=https://registry.npmjs.org/": "registry=https://registry.npmjs.org/",
		"token: " + token:                      "token: " + Mask,
		"key " + keyLine + " ":                 "key " + Mask + " ",
		"apiVersion: v1":                       "apiVersion: v1",
		"- name: ci":                           "- name: ci",
		"-----BEGIN PRIVATE KEY-----":          "-----BEGIN PRIVATE KEY-----",
	} {
		if got := m.MaskString(text); got != want {
			t.Errorf("%q masked as %q, want %q", text, got, want)
		}
	}
}

func TestMaskerCatchesASecretInHexAndPercentEscapes(t *testing.T) {
	const secret = "p@ss word/+1"
	m := newMasker(map[string]string{"PASSWORD": secret})
	for _, form := range []string{
		hex.EncodeToString([]byte(secret)),
		strings.ToUpper(hex.EncodeToString([]byte(secret))),
		url.QueryEscape(secret),
		url.PathEscape(secret),
		"p%40ss%20word/%2B1",   // Python's quote
		"p%40ss%20word%2F%2B1", // JavaScript's encodeURIComponent
		`p@ss\ word/+1`,        // printf %q
		`p@ss word\/+1`,        // JSON with its slashes escaped, as PHP writes it
	} {
		if got := m.MaskString("https://user:" + form + "@example.test/"); got != "https://user:"+Mask+"@example.test/" {
			t.Errorf("%q: got %q", form, got)
		}
	}
}

func TestMaskerLeavesTooShortARunOfBase64Alone(t *testing.T) {
	// After one byte of something else, the six-byte secret's base64 has
	// one group of four characters of its own: too short to mask without
	// masking ordinary text. Aligned, it has two, which are masked.
	m := newMasker(map[string]string{"PIN": "abcdef"})
	if got := m.MaskString("eGFiY2RlZg== YWJjZGVm abcdef"); got != "eGFiY2RlZg== *** ***" {
		t.Fatalf("got %q", got)
	}
}

// BenchmarkMaskerOnOutputDenseWithSecrets compares 10 MB of output made
// of nothing but secrets with 10 MB holding none: masking must not turn
// a noisy command into minutes of the bot's time.
func BenchmarkMaskerOnOutputDenseWithSecrets(b *testing.B) {
	const secret = "ghp_abcdef123456"
	m := newMasker(map[string]string{"TOKEN": secret, "KEY": "sk-other-secret"})
	dense := bytes.Repeat([]byte(secret+" "), 10<<20/(len(secret)+1))
	plain := bytes.Repeat([]byte("x"), len(dense))
	var denseTime, plainTime time.Duration
	for b.Loop() {
		start := time.Now()
		m.Mask(dense)
		denseTime += time.Since(start)
		start = time.Now()
		m.Mask(plain)
		plainTime += time.Since(start)
	}
	b.ReportMetric(float64(denseTime.Microseconds())/float64(b.N)/1000, "dense-ms")
	b.ReportMetric(float64(plainTime.Microseconds())/float64(b.N)/1000, "plain-ms")
	b.ReportMetric(float64(denseTime)/float64(plainTime), "dense/plain")
}

func TestMaskerHoldsBackLessThanASecretWhateverComes(t *testing.T) {
	// The key's hex form ends with "a", which begins its base64 form: a
	// piece that ends with the hex form also ends with the start of
	// another, and the output that the stream held back for it grew with
	// everything printed after it.
	const secret = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz"
	m := newMasker(map[string]string{"KEY": secret})
	form := []byte(hex.EncodeToString([]byte(secret)))
	longest := 0
	for _, s := range m.secrets {
		longest = max(longest, len(s))
	}
	emitted := 0
	s := m.stream(func(p []byte) { emitted += len(p) })
	for i := range 200 {
		s.Write(bytes.Repeat(form, 10))
		if len(s.pending) >= longest {
			t.Fatalf("after %d pieces the stream holds back %d bytes, more than the longest form, %d", i+1, len(s.pending), longest)
		}
	}
	if emitted == 0 {
		t.Fatal("nothing was emitted")
	}
}

func TestMaskerStreamsShortSecretsHeldInsideALongOne(t *testing.T) {
	// "ab-cd" is held back, masked already as the end of M, and holds two
	// matches apart, of T1 and T2.
	m := newMasker(map[string]string{"P": "ab-cd-ef-gh", "T1": "ab", "T2": "cd", "M": "zzab-cd"})
	var out bytes.Buffer
	s := m.stream(func(p []byte) { out.Write(p) })
	s.Write([]byte("zzab-cd"))
	s.Write([]byte("!"))
	s.Flush()
	if out.String() != "***!" {
		t.Errorf("got %q, want %q", out.String(), "***!")
	}
}

func TestMaskerStreamsAsItMasksWhole(t *testing.T) {
	// Secrets made of few letters overlap, nest and repeat in every way;
	// however the text is cut, the stream hides each, as Mask does.
	r := rand.New(rand.NewPCG(1, 2))
	// Masks side by side count as one: where the stream masked a secret
	// before it knew the next would touch it, it shows two.
	masks := regexp.MustCompile(`(\*\*\*)+`)
	once := func(b []byte) string { return masks.ReplaceAllString(string(b), "***") }
	letters := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc"[r.IntN(3)]
		}
		return string(b)
	}
	for n := range 40_000 {
		secrets := map[string]string{}
		for i := range 1 + r.IntN(4) {
			// Half the cases with short secrets too, several of which fit
			// in the part of a long one the stream holds back.
			if n%2 == 0 {
				secrets[string(rune('A'+i))] = letters(2 + r.IntN(7))
			} else {
				secrets[string(rune('A'+i))] = letters(6 + r.IntN(4))
			}
		}
		m := newMasker(secrets)
		var text []byte
		for len(text) < 40 {
			if r.IntN(2) == 0 {
				s := m.secrets[r.IntN(len(m.secrets))]
				text = append(text, s[r.IntN(len(s)):]...)
			} else {
				text = append(text, letters(1+r.IntN(5))...)
			}
		}
		var out []byte
		s := m.stream(func(p []byte) { out = append(out, p...) })
		for rest := text; len(rest) > 0; {
			n := 1 + r.IntN(len(rest))
			s.Write(rest[:n])
			rest = rest[n:]
		}
		s.Flush()
		if once(out) != once(m.Mask(text)) {
			t.Fatalf("secrets %q, text %q:\nstream %q\nwhole  %q", secrets, text, out, m.Mask(text))
		}
	}
}
