package runtime

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is an OCI mount's option list sorted into what each kernel call needs. An
// OCI config spells options as mount(8) does ("ro", "nosuid", "rbind", "rprivate", "size=64m");
// mount(2) wants flag bits, a data string for the file system, and, for propagation, a
// separate call.
type mountOptions struct {
	// flags are the MS_* bits for mount(2).
	flags uintptr
	// bind and recursive come from "bind" and "rbind".
	bind, recursive bool
	// propagation are MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (with MS_REC for the r-
	// forms), each applied by a mount call of its own after the mount exists.
	propagation []uintptr
	// attrSet and attrClear are MOUNT_ATTR_* bits for the recursive forms ("rro",
	// "rnosuid"), applied with mount_setattr(2) to the mount and everything beneath it.
	attrSet, attrClear uint64
	// data is what is left: options the file system reads ("mode=755", "size=65536k").
	data string
}

// mountFlags maps an option to the flag it sets or, with clear, removes.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"defaults": {false, 0}, "ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"suid": {true, unix.MS_NOSUID}, "nosuid": {false, unix.MS_NOSUID},
	"dev": {true, unix.MS_NODEV}, "nodev": {false, unix.MS_NODEV},
	"exec": {true, unix.MS_NOEXEC}, "noexec": {false, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime": {false, unix.MS_LAZYTIME}, "nolazytime": {true, unix.MS_LAZYTIME},
	"symfollow": {true, unix.MS_NOSYMFOLLOW}, "nosymfollow": {false, unix.MS_NOSYMFOLLOW},
	"silent": {false, unix.MS_SILENT}, "loud": {true, unix.MS_SILENT},
	"acl": {false, unix.MS_POSIXACL}, "noacl": {true, unix.MS_POSIXACL},
	"iversion": {false, unix.MS_I_VERSION}, "noiversion": {true, unix.MS_I_VERSION},
}

// propagationFlags maps the propagation options to their flags.
var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recursiveAttrs maps the recursive options to the MOUNT_ATTR_* bit they set or clear.
var recursiveAttrs = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro": {false, unix.MOUNT_ATTR_RDONLY}, "rrw": {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {false, unix.MOUNT_ATTR_NOSUID}, "rsuid": {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev": {false, unix.MOUNT_ATTR_NODEV}, "rdev": {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec": {false, unix.MOUNT_ATTR_NOEXEC}, "rexec": {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime": {false, unix.MOUNT_ATTR_NODIRATIME}, "rdiratime": {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW}, "rsymfollow": {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rnoatime": {false, unix.MOUNT_ATTR_NOATIME}, "ratime": {true, unix.MOUNT_ATTR__ATIME},
	"rrelatime": {false, unix.MOUNT_ATTR_RELATIME}, "rnorelatime": {true, unix.MOUNT_ATTR__ATIME},
	"rstrictatime": {false, unix.MOUNT_ATTR_STRICTATIME}, "rnostrictatime": {true, unix.MOUNT_ATTR__ATIME},
}

// unsupportedOptions are runc extensions this runtime does not implement; taking them for
// file-system data would hand the kernel an option it does not know.
var unsupportedOptions = map[string]string{
	"tmpcopyup": "copying the image's files up into a tmpfs",
	"idmap":     "idmapped mounts", "ridmap": "idmapped mounts",
}

// parseMountOptions sorts an OCI option list. Options that are not flags are the file
// system's own and go into the data string, in order.
func parseMountOptions(options []string) (mountOptions, error) {
	var o mountOptions
	var data []string
	for _, opt := range options {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if a, ok := recursiveAttrs[opt]; ok {
			if a.clear {
				o.attrClear |= a.attr
			} else {
				o.attrSet |= a.attr
			}
			continue
		}
		switch opt {
		case "bind":
			o.bind = true
			continue
		case "rbind":
			o.bind, o.recursive = true, true
			continue
		}
		if what, ok := unsupportedOptions[opt]; ok {
			return o, fmt.Errorf("%w: mount option %q (%s)", ErrUnsupported, opt, what)
		}
		data = append(data, opt)
	}
	o.data = strings.Join(data, ",")
	return o, nil
}
