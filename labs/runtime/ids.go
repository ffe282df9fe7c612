package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// unchangedID is (uid_t)-1: setresuid(2), setresgid(2) and setgroups read it as "leave
// this ID as it is", so a process configured to run as uid 4294967295 would keep the
// runtime's own, root. The kernel has no such user; a config that names it is refused.
const unchangedID = 1<<32 - 1

// validateUser checks the IDs of process.user: the JSON numbers are 32 bits, so only
// (uid_t)-1 can slip through as a number the kernel would misread.
func validateUser(u specs.User) error {
	if u.UID == unchangedID {
		return fmt.Errorf("process.user.uid %d is (uid_t)-1, which setresuid(2) reads as \"unchanged\" (the process would stay root)", u.UID)
	}
	if u.GID == unchangedID {
		return fmt.Errorf("process.user.gid %d is (gid_t)-1, which setresgid(2) reads as \"unchanged\" (the process would keep group root)", u.GID)
	}
	for _, g := range u.AdditionalGids {
		if g == unchangedID {
			return fmt.Errorf("process.user.additionalGids: %d is (gid_t)-1, which no group can be", g)
		}
	}
	return nil
}
