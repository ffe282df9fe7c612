//go:build !linux

package cgroup

// Of returns the directories of the cgroups process pid is in (Linux only).
func Of(pid int) (map[string]string, error) { return nil, errNotLinux }

// ReadOf reads a file of the cgroup process pid is in (Linux only).
func ReadOf(pid int, controller, v1, v2 string) (value, dir string, err error) {
	return "", "", errNotLinux
}
