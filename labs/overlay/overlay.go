package overlay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind is the kind of a change, spelled as `docker diff` spells it.
type Kind byte

// The kinds of change a container can make to a path.
const (
	// Added: the path is new; no layer has it.
	Added Kind = 'A'
	// Changed: the path exists in a layer and the container changed it (its content or
	// metadata, or, for a directory, its entries).
	Changed Kind = 'C'
	// Deleted: the path exists in a layer and the container deleted it.
	Deleted Kind = 'D'
)

// String returns "A", "C" or "D".
func (k Kind) String() string { return string(rune(k)) }

// Change is one changed path, as one line of `docker diff`.
type Change struct {
	Kind Kind
	// Path is absolute, as the container sees it ("/etc/hosts").
	Path string
}

// String formats the change as `docker diff` does: "A /new/file".
func (c Change) String() string { return c.Kind.String() + " " + c.Path }

// The extended attributes that mark a directory opaque, and the value that means "yes".
const (
	// OpaqueXattr is the attribute a root overlay mount reads (trusted.* needs
	// CAP_SYS_ADMIN, so a container cannot forge it).
	OpaqueXattr = "trusted.overlay.opaque"
	// UserOpaqueXattr is the attribute an overlay mounted with "userxattr" (inside a user
	// namespace) reads instead.
	UserOpaqueXattr = "user.overlay.opaque"
	// OpaqueValue is the value of an opaque mark.
	OpaqueValue = "y"
)

// maxLayers is the kernel's OVL_MAX_STACK: the most lower directories one overlay can have.
const maxLayers = 500

// mountOptions returns the mount(2) option string for an overlay of layers (lowest first)
// under upper, with work as the work directory. The kernel wants the lower directories the other
// way round, topmost first, because lookup tries them in the order they are listed.
//
// index, redirect_dir and metacopy are turned off so that the upper directory stays a
// self-contained record of the container's changes (see the package documentation).
// userxattr is added inside a user namespace, where trusted.* attributes cannot be set.
//
// The string must fit in one page (pageSize bytes including its terminating NUL), which is
// all mount(2) copies from the caller.
func mountOptions(layers []string, upper, work string, userxattr bool, pageSize int) (string, error) {
	// lab:05 begin: the options lowerdir=TOP:...:BOTTOM,upperdir=UPPER,workdir=WORK,index=off,redirect_dir=nofollow,metacopy=off (and userxattr); refuse no layers, more than maxLayers, paths with , : or \, and options longer than pageSize-1
	if len(layers) == 0 {
		return "", errors.New("overlay needs at least one layer")
	}
	if len(layers) > maxLayers {
		return "", fmt.Errorf("overlay of %d layers: the kernel stacks at most %d", len(layers), maxLayers)
	}
	for _, dir := range append([]string{upper, work}, layers...) {
		// The kernel splits options at "," and lowerdir at ":"; rather than rely on
		// escapes that differ between kernel versions, such paths are refused.
		if strings.ContainsAny(dir, ",:\\") {
			return "", fmt.Errorf("overlay directory %q contains one of the characters , : \\, which the mount options cannot carry", dir)
		}
	}
	top := slices.Clone(layers)
	slices.Reverse(top)
	opts := "lowerdir=" + strings.Join(top, ":") + ",upperdir=" + upper + ",workdir=" + work +
		",index=off,redirect_dir=nofollow,metacopy=off"
	if userxattr {
		opts += ",userxattr"
	}
	if len(opts)+1 > pageSize {
		return "", fmt.Errorf("overlay options for %d layers are %d bytes, more than the %d bytes (one page) that mount(2) accepts: use fewer layers or shorter layer paths",
			len(layers), len(opts), pageSize-1)
	}
	return opts, nil
	// lab:05 end
}

// sortChanges orders changes by path, the order Diff returns them in.
func sortChanges(changes []Change) {
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
}
