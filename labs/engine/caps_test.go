package engine

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/runtime"
)

// TestCapabilitiesFollowDocker checks --cap-add and --cap-drop against Docker's documented
// rules: drops first, then adds; ALL in either list; names in any case, with or without
// CAP_; an unknown name refused; --privileged is everything.
func TestCapabilitiesFollowDocker(t *testing.T) {
	defaults := runtime.DefaultCapabilities
	without := func(caps []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return slices.Contains(drop, c) })
	}
	all := runtime.AllCapabilities()
	for _, tc := range []struct {
		name       string
		add, drop  []string
		privileged bool
		want       []string
	}{
		{"nothing asked: the defaults", nil, nil, false, defaults},
		{"drop ALL, add one: only that one", []string{"NET_BIND_SERVICE"}, []string{"ALL"}, false, []string{"CAP_NET_BIND_SERVICE"}},
		{"add before drop on the line changes nothing", []string{"net_bind_service"}, []string{"all"}, false, []string{"CAP_NET_BIND_SERVICE"}},
		{"drop ALL: nothing", nil, []string{"ALL"}, false, nil},
		{"add ALL: everything", []string{"ALL"}, nil, false, all},
		{"add ALL, drop one: all but it", []string{"ALL"}, []string{"CAP_SYS_ADMIN"}, false, without(all, "CAP_SYS_ADMIN")},
		{"add ALL and drop ALL: the add wins", []string{"ALL"}, []string{"ALL"}, false, all},
		{"one added and dropped: the add wins", []string{"NET_ADMIN"}, []string{"net_admin"}, false, append(slices.Clone(defaults), "CAP_NET_ADMIN")},
		{"drop one default", nil, []string{"chown"}, false, without(defaults, "CAP_CHOWN")},
		{"CAP_ prefix, any case", []string{"cap_sys_time", "Sys_Time"}, nil, false, append(slices.Clone(defaults), "CAP_SYS_TIME")},
		{"add a default again: no duplicate", []string{"KILL"}, nil, false, defaults},
		{"privileged ignores the lists", []string{"NET_ADMIN"}, []string{"ALL"}, true, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Capabilities(defaults, tc.add, tc.drop, tc.privileged)
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, got)
		})
	}
	for _, bad := range [][2][]string{{{"FLY"}, nil}, {nil, {"CAP_FLY"}}, {{"ALL", "NET_FLY"}, nil}, {{""}, nil}} {
		_, err := Capabilities(defaults, bad[0], bad[1], false)
		require.Error(t, err, "%v", bad)
		assert.Regexp(t, `^--cap-(add|drop): unknown capability "`, err.Error(), "the error names the option and the value")
	}
}
