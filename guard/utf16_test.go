package guard

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

// utf16Lines is text written in UTF-16, with a byte order mark, as the
// lines git's diff splits it into: at each byte 0x0A.
func utf16Lines(text string, order binary.AppendByteOrder) []string {
	units := append([]uint16{0xFEFF}, utf16.Encode([]rune(text))...)
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = order.AppendUint16(b, u)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// A file written in UTF-16, as PowerShell's Out-File and Python's utf-16
// codec write one, holds a NUL beside each ASCII character: its keys are
// found all the same, on their lines.
func TestAKeyInAUTF16FileIsFound(t *testing.T) {
	s := mustScanner(t)
	text := "# settings\nAWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\nregion=eu-west-1\n"
	for name, order := range map[string]binary.AppendByteOrder{"little-endian": binary.LittleEndian, "big-endian": binary.BigEndian} {
		found := secrets(t, s, addition("settings.ps1", utf16Lines(text, order)...))
		if len(found) != 1 || found[0].Line != 2 || found[0].Rule != "aws-access-token" {
			t.Errorf("%s: findings %+v, want the key on line 2", name, found)
		}
	}
}

func TestTheValueOfASecretTheBotKnowsIsFoundInAUTF16File(t *testing.T) {
	const secret = "gw_7f3c1d2e9a8b"
	forms := map[string][]string{"GW_TOKEN": {secret}}
	found := Values(nil, addition("notes.txt", utf16Lines("the gateway token is "+secret+"\n", binary.LittleEndian)...), forms)
	if len(found) != 1 || found[0].String() != "notes.txt, line 1: looks like a credential (the value of GW_TOKEN)" {
		t.Fatalf("findings %+v", found)
	}
}
