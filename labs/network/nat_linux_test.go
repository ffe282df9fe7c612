package network

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// TestListRulesReadsAsIptablesS checks that one iptables-save, read by listRules, gives
// each table's chains and rules exactly as `iptables -S TABLE` prints them, which the rule
// checks of EnsureNAT, Release and Cleanup compare with. (The built-in chains' policies
// differ for a table nothing has used yet: iptables -S prints them, iptables-save leaves
// the table out.)
func TestListRulesReadsAsIptablesS(t *testing.T) {
	labtest.RequireRoot(t)
	// Rules in all three tables: an isolated network's, in the tests' own network namespace
	// (see TestMain).
	n, err := New("cltestls", "10.254.77.0/24", t.TempDir())
	require.NoError(t, err)
	n.Isolated = true
	t.Cleanup(func() { _, _ = n.Cleanup() })
	require.NoError(t, n.EnsureBridge())
	require.NoError(t, n.EnsureNAT())
	all, err := listRules()
	require.NoError(t, err)
	withoutPolicies := func(lines []string) []string {
		var kept []string
		for _, l := range lines {
			if l != "" && !strings.HasPrefix(l, "-P ") {
				kept = append(kept, l)
			}
		}
		return kept
	}
	for _, table := range []string{"nat", "filter", "mangle"} {
		out, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
		require.NoError(t, err)
		want := withoutPolicies(strings.Split(string(out), "\n"))
		assert.ElementsMatch(t, want, withoutPolicies(all[table]), "iptables-save's %s table read as iptables -S lists it", table)
		one, err := listRules(table)
		require.NoError(t, err)
		assert.Equal(t, all[table], one[table], "the table alone, as in the listing of all of them")
	}
}
