package alias

import "testing"

// TestCheckSecretsPreparedOrNot: Prepare only saves work; the answers are
// the same with and without it.
func TestCheckSecretsPreparedOrNot(t *testing.T) {
	plain := &Alias{OrgID: "org_1", Type: TypeLive, Passcode: "open-sesame", StreamKey: "sk-0123456789abcdef"}
	prepared := *plain
	prepared.Prepare()
	none := &Alias{}
	none.Prepare()
	for _, a := range []*Alias{plain, &prepared} {
		if !CheckPasscode(a, "open-sesame") || CheckPasscode(a, "open-sesam") || CheckPasscode(a, "") {
			t.Errorf("passcode check wrong for %+v", a)
		}
		if !CheckStreamKey(a, "sk-0123456789abcdef") || CheckStreamKey(a, "sk-0123456789abcdeF") || CheckStreamKey(a, "open-sesame") {
			t.Errorf("stream key check wrong for %+v", a)
		}
	}
	if plain.KeyEpoch() != prepared.KeyEpoch() || plain.OrgID != prepared.OrgID || plain.Type != prepared.Type {
		t.Errorf("prepared %+v differs from %+v", prepared, *plain)
	}
	if other := (&Alias{StreamKey: "sk-0123456789abcdeF"}); other.KeyEpoch() == plain.KeyEpoch() {
		t.Error("two stream keys share an epoch")
	}
	if CheckPasscode(none, "") || CheckStreamKey(none, "") {
		t.Error("an alias without secrets accepted an empty one")
	}
}
