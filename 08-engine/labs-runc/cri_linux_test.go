package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"containerlabs/labs/image"
	"containerlabs/labs/labtest"
)

// The CRI checks run pods as a Kubernetes node does, without the kubelet: crictl (or critest)
// speaks the Container Runtime Interface to containerd's CRI plugin, which runs each pod
// through a runtime handler. Two handlers share one daemon: "labs" runs labs-runc and "runc"
// runs Debian's runc, both through containerd's runc shim (io.containerd.runc.v2).
const (
	// criBridge and criSubnet are the pods' network: the CNI bridge plugin plugs each pod
	// into the bridge, and host-local gives it an address from the subnet.
	criBridge  = "cltestcri"
	criSubnet  = "10.199.30.0/24"
	criGateway = "10.199.30.1"
	// pauseRef is the sandbox image: the pause program, built here (labs/labtest/pause).
	pauseRef = "labs.local/pause:latest"
	// criNamespace is the containerd namespace the CRI plugin keeps everything in.
	criNamespace = "k8s.io"
)

// criNode is one test's node: a containerd of its own with the CRI plugin on, its root,
// state, sockets, CNI configuration and IP leases in a temp dir, and a bridge of its own.
type criNode struct {
	*daemon
	dir, sock  string
	crictlPath string
	// roots are the state roots of the handlers' runtimes (--root of labs-runc and runc),
	// each holding a directory per containerd namespace.
	roots map[string]string
	// leases is host-local's directory of IP leases for the pods' network.
	leases string
}

// criOptions change what a node offers.
type criOptions struct {
	// portmap adds CNI's portmap plugin, for pods that publish host ports (critest).
	portmap bool
	// images are imported besides the pause image.
	images []criImage
}

// criImage is an image a node gets offline: a root file system built here, imported with
// `ctr images import` under each of its names.
type criImage struct {
	refs   []string
	root   func(t *testing.T, root string)
	config v1.Config
}

// busyboxImage is the busybox root of the other checks, with a shell as its command.
var busyboxImage = criImage{refs: []string{imageRef}, root: busyboxRoot, config: v1.Config{Cmd: []string{"sh"}}}

func busyboxRoot(t *testing.T, root string) {
	require.NoError(t, os.Remove(root))
	require.NoError(t, os.Rename(labtest.BusyboxRoot(t), root))
}

// criTool returns the path of a cri-tools program (crictl, critest): $CRI_TOOLS/NAME, else
// $LAB_BIN/NAME (the cgroup v2 VM has the tools beside the labs' binaries), else the one
// scripts/cri-tools.sh built into bin/cri-tools/VERSION, else NAME on PATH. Without one
// the check is skipped, saying how to build it.
func criTool(t *testing.T, name string) string {
	if dir := os.Getenv("CRI_TOOLS"); dir != "" {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("CRI_TOOLS=%s has no %s: run scripts/cri-tools.sh", dir, name)
		}
		return path
	}
	var candidates []string
	if dir := os.Getenv(labtest.EnvBinDir); dir != "" {
		candidates = append(candidates, filepath.Join(dir, name))
	}
	if repo, err := labtest.RepoRoot(); err == nil {
		built, _ := filepath.Glob(filepath.Join(repo, "bin", "cri-tools", "*", name))
		slices.Reverse(built)
		candidates = append(candidates, built...)
	}
	for _, path := range candidates {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: build it with scripts/cri-tools.sh (scripts/test.sh does)", name)
	}
	return path
}

// cniPlugins is where Debian's containernetworking-plugins installs the CNI plugins.
const cniPlugins = "/usr/lib/cni"

func startCRINode(t *testing.T, opts criOptions) *criNode {
	labtest.RequireRoot(t)
	for _, tool := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: apt-get install containerd (scripts/test.sh does)", tool)
		}
	}
	plugins := []string{"bridge", "host-local", "loopback"}
	if opts.portmap {
		plugins = append(plugins, "portmap")
	}
	for _, p := range plugins {
		if _, err := os.Stat(filepath.Join(cniPlugins, p)); err != nil {
			t.Skipf("the CNI plugin %s is not in %s: apt-get install containernetworking-plugins (scripts/test.sh does)", p, cniPlugins)
		}
	}
	n := &criNode{crictlPath: criTool(t, "crictl"), dir: labtest.TempDir(t)}
	n.sock = filepath.Join(n.dir, "containerd.sock")
	n.leases = filepath.Join(n.dir, "cni", "leases")
	n.roots = map[string]string{"labs": filepath.Join(n.dir, "labs-runc")}
	handlers := map[string]string{"labs": binary(t).Path}
	if runc, err := exec.LookPath("runc"); err == nil {
		n.roots["runc"] = filepath.Join(n.dir, "runc")
		handlers["runc"] = runc
	}
	// containerd 1.6 puts its shims' sockets under /run/containerd/s whatever its config
	// says.
	removeIfCreated(t, "/run/containerd", "/run/containerd/s")
	makeCRIBridge(t)
	require.NoError(t, os.MkdirAll(filepath.Join(n.dir, "cni", "net.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(n.dir, "cni", "net.d", "10-containerlabs.conflist"), n.cniConfig(opts.portmap), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(n.dir, "config.toml"), n.config(handlers), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(n.dir, "crictl.yaml"), []byte(fmt.Sprintf(
		"runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", n.sock, n.sock)), 0o644))
	n.daemon = startDaemon(t, n.dir, "containerd", "--config", filepath.Join(n.dir, "config.toml"), "--log-level", "debug")
	// Cleanups run last-registered first: the pods go, then the daemon (stopping twice is
	// harmless), and then no shim of it may be left (a shim outlives its daemon by design
	// and would keep the test's mounts busy); the bridge and the directory go after that.
	t.Cleanup(func() {
		for _, pid := range shimsOf(n.sock) {
			t.Errorf("shim %d was left running; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	t.Cleanup(func() {
		if res := n.crictl(t, "rmp", "--all", "--force"); res.Code != 0 {
			t.Logf("crictl rmp --all --force: %s", res)
		}
		n.stop()
	})
	// The CRI plugin reads the CNI configuration after it starts; a pod asked for before
	// then fails with "cni plugin not initialized".
	n.awaitReady(func() bool { return n.ready(t) })
	n.importImages(t, append([]criImage{{refs: []string{pauseRef}, root: pauseRoot, config: v1.Config{Entrypoint: []string{"/pause"}}}}, opts.images...))
	return n
}

func pauseRoot(t *testing.T, root string) { labtest.InstallPause(t, root) }

// ready reports whether the CRI plugin says both the runtime and the network are ready.
func (n *criNode) ready(t *testing.T) bool {
	res := n.crictl(t, "info")
	var info struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status bool   `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	}
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &info) != nil {
		return false
	}
	ready := 0
	for _, c := range info.Status.Conditions {
		if c.Status && (c.Type == "RuntimeReady" || c.Type == "NetworkReady") {
			ready++
		}
	}
	return ready == 2
}

// config is containerd's configuration: everything under the node's directory, the CRI
// plugin with the pause image built here, a runtime handler per runtime, and CNI from the
// node's own configuration directory.
func (n *criNode) config(handlers map[string]string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
# containerd's opt plugin installs into /opt/containerd unless told otherwise.
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # The pods' network namespaces are bind-mounted under the state directory, not
  # /var/run/netns, so that every mount of the node is under its directory.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`, filepath.Join(n.dir, "root"), filepath.Join(n.dir, "state"), n.sock, n.sock+".ttrpc", filepath.Join(n.dir, "opt"), pauseRef)
	if !hasCapability(unix.CAP_SYS_RESOURCE) {
		// The sandbox asks for oom_score_adj -998, and lowering it needs CAP_SYS_RESOURCE:
		// without it (a container host that withholds it) containerd clamps the value to its
		// own instead, or every runtime fails to create the sandbox.
		b.WriteString("  restrict_oom_score_adj = true\n")
	}
	fmt.Fprintf(&b, `  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "labs"
`, cniPlugins, filepath.Join(n.dir, "cni", "net.d"))
	for name, path := range handlers {
		fmt.Fprintf(&b, `    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s.options]
        BinaryName = %q
        Root = %q
`, name, name, path, n.roots[name])
	}
	return []byte(b.String())
}

// cniConfig is the pods' network: the bridge plugin plugs each pod into criBridge, which
// the test made with the gateway address; host-local leases addresses from criSubnet and
// keeps its leases under the node's directory. The pods get no default route and there is
// no masquerading: they reach the host and each other, nothing beyond.
func (n *criNode) cniConfig(portmap bool) []byte {
	plugins := []map[string]any{{
		"type": "bridge", "bridge": criBridge, "isGateway": false, "ipMasq": false,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": criSubnet, "gateway": criGateway}}},
			"dataDir": n.leases,
		},
	}}
	if portmap {
		plugins = append(plugins, map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}})
	}
	data, _ := json.MarshalIndent(map[string]any{"cniVersion": "1.0.0", "name": "containerlabs-cri", "plugins": plugins}, "", "  ")
	return data
}

// makeCRIBridge creates the pods' bridge with the gateway address, and removes it when the
// test ends. The bridge plugin would make the bridge itself, but giving it the address
// (isGateway) also turns on the host's IP forwarding; a bridge made here leaves that alone.
//
// Equivalent to: `ip link add cltestcri type bridge; ip addr add 10.199.30.1/24 dev cltestcri;
// ip link set cltestcri up`.
func makeCRIBridge(t *testing.T) {
	if old, err := netlink.LinkByName(criBridge); err == nil {
		// Left by a test run that was killed: the name is this test's own.
		require.NoError(t, netlink.LinkDel(old))
	}
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: criBridge}}
	require.NoError(t, netlink.LinkAdd(bridge), "create bridge %s", criBridge)
	t.Cleanup(func() {
		if err := netlink.LinkDel(bridge); err != nil {
			t.Errorf("remove bridge %s: %v", criBridge, err)
		}
	})
	addr, err := netlink.ParseAddr(criGateway + "/24")
	require.NoError(t, err)
	require.NoError(t, netlink.AddrAdd(bridge, addr), "add %s to %s", addr, criBridge)
	require.NoError(t, netlink.LinkSetUp(bridge))
}

// hasCapability reports whether this process has capability c in its effective set.
func hasCapability(c int) bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<c) != 0
		}
	}
	return false
}

// importImages builds the images with labs/image, saves them as one docker-archive and
// imports it into the CRI plugin's containerd namespace.
func (n *criNode) importImages(t *testing.T, images []criImage) {
	store, err := image.Open(filepath.Join(n.dir, "images"))
	require.NoError(t, err)
	var refs []string
	for _, img := range images {
		root := labtest.TempDir(t)
		img.root(t, root)
		config := img.config
		_, err := store.ImportDir(root, img.refs[0], image.Meta{Comment: "built offline for the CRI checks", Config: &config})
		require.NoError(t, err, "build %s", img.refs[0])
		for _, ref := range img.refs[1:] {
			require.NoError(t, store.Tag(img.refs[0], ref))
		}
		refs = append(refs, img.refs...)
	}
	archive := filepath.Join(n.dir, "images.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, store.Save(f, refs, image.DockerArchive))
	require.NoError(t, f.Close())
	res := labtest.Command(t, labtest.Options{Timeout: 2 * time.Minute}, "ctr",
		"--address", n.sock, "--namespace", criNamespace, "images", "import", archive)
	require.Equal(t, 0, res.Code, "ctr images import: %s", res)
}

// crictl runs crictl against the node.
func (n *criNode) crictl(t *testing.T, args ...string) labtest.Result {
	t.Helper()
	return labtest.Command(t, labtest.Options{Timeout: 90 * time.Second}, n.crictlPath,
		append([]string{"--config", filepath.Join(n.dir, "crictl.yaml")}, args...)...)
}

// podVeths lists the interfaces plugged into the pods' bridge: one veth per running pod.
func podVeths() []string {
	bridge, err := netlink.LinkByName(criBridge)
	if err != nil {
		return nil
	}
	links, _ := netlink.LinkList()
	var veths []string
	for _, l := range links {
		if l.Attrs().MasterIndex == bridge.Attrs().Index {
			veths = append(veths, l.Attrs().Name)
		}
	}
	return veths
}

// leasedAddresses lists the addresses host-local has leased: a file named after each.
func (n *criNode) leasedAddresses() []string {
	var leased []string
	dirs, _ := os.ReadDir(n.leases)
	for _, d := range dirs {
		files, _ := os.ReadDir(filepath.Join(n.leases, d.Name()))
		for _, f := range files {
			if net.ParseIP(f.Name()) != nil {
				leased = append(leased, f.Name())
			}
		}
	}
	return leased
}

// nsOf returns the namespace of kind a process is in, as the kernel names it ("net:[4026...]").
func nsOf(pid int, kind string) string {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return link
}

// alive reports whether a process exists.
func alive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// podStatus is what `crictl inspectp` says of a pod: the CRI status, and containerd's
// extra info, which holds the sandbox's PID.
type podStatus struct {
	Status struct {
		State          string `json:"state"`
		RuntimeHandler string `json:"runtimeHandler"`
		Network        struct {
			IP string `json:"ip"`
		} `json:"network"`
	} `json:"status"`
	Info struct {
		Pid int `json:"pid"`
	} `json:"info"`
}

// containerStatus is what `crictl inspect` says of a container.
type containerStatus struct {
	Status struct {
		State    string `json:"state"`
		ExitCode int    `json:"exitCode"`
		LogPath  string `json:"logPath"`
	} `json:"status"`
	Info struct {
		Pid int `json:"pid"`
	} `json:"info"`
}

// inspect runs a crictl inspect command and decodes its JSON into v.
func (n *criNode) inspect(t *testing.T, v any, args ...string) {
	t.Helper()
	res := n.crictl(t, args...)
	require.Equal(t, 0, res.Code, "crictl %s: %s", strings.Join(args, " "), res)
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), v), "crictl %s prints JSON: %s", strings.Join(args, " "), res)
}

// TestCRI runs a pod on labs-runc the way the kubelet does, through containerd's CRI plugin,
// with crictl: the pod's sandbox (the pause container, which holds the pod's namespaces),
// a container that joins them, exec, logs, stop and removal.
func TestCRI(t *testing.T) {
	// The pod as the kubelet would describe it: a cgroup parent of the test's own, a log
	// directory, and a PID namespace per container (Kubernetes' default; a pod that sets
	// shareProcessNamespace gets the pod's instead). The cgroups' removal is registered
	// before the node starts, so it runs after the node's pods are gone, also on failure.
	suffix := strings.TrimPrefix(newID(), "labs-runc-test-")
	cgroupParent := "/containerlabs-test-cri/" + suffix
	t.Cleanup(func() { removeCgroupTree(t, cgroupParent) })
	n := startCRINode(t, criOptions{images: []criImage{busyboxImage}})
	labsRoot := filepath.Join(n.roots["labs"], criNamespace)
	// state is the status `labs-runc state` gives a container, "" if it knows none by id.
	state := func(t *testing.T, id string) string {
		res := labtest.Command(t, labtest.Options{}, binary(t).Path, "--root", labsRoot, "state", id)
		var st struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal([]byte(res.Stdout), &st)
		return st.Status
	}

	logDir := filepath.Join(n.dir, "pods", suffix)
	podConfig := filepath.Join(n.dir, "pod.json")
	writeJSON(t, podConfig, map[string]any{
		"metadata":      map[string]any{"name": "labs-pod", "namespace": "containerlabs", "uid": suffix, "attempt": 0},
		"hostname":      "labs-pod",
		"log_directory": logDir,
		"linux": map[string]any{
			"cgroup_parent":    cgroupParent,
			"security_context": map[string]any{"namespace_options": map[string]any{"pid": namespaceContainer}},
		},
	})
	containerConfig := filepath.Join(n.dir, "container.json")
	writeJSON(t, containerConfig, map[string]any{
		"metadata": map[string]any{"name": "box"},
		"image":    map[string]any{"image": imageRef},
		// The shell is the container's PID 1: it says when it starts and when it is asked
		// to stop, which it does at once (a PID 1 ignores SIGTERM unless it handles it).
		"command":  []string{"sh", "-c", `trap 'echo stopping; exit 0' TERM; echo started; while :; do sleep 1 & wait $!; done`},
		"log_path": "box.log",
		"linux":    map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"pid": namespaceContainer}}},
	})

	var podID, ctrID string
	var pod podStatus
	var ctr containerStatus
	needPod := func(t *testing.T) {
		if podID == "" {
			t.Fatal(labtest.Hint("needs the pod of the first check: make `runp` work first"))
		}
	}
	needContainer := func(t *testing.T) {
		needPod(t)
		if ctrID == "" || ctr.Info.Pid == 0 {
			t.Fatal(labtest.Hint("needs the running container of the create-and-start check: make that work first"))
		}
	}

	t.Run("runp starts the pod's sandbox with labs-runc", func(t *testing.T) {
		res := n.crictl(t, "runp", "--runtime", "labs", podConfig)
		require.Equal(t, 0, res.Code, labtest.Hint("RunPodSandbox has the shim run `labs-runc create` and `start` of the pause container; containerd's log is %s", n.log).With(res))
		podID = strings.TrimSpace(res.Stdout)
		n.inspect(t, &pod, "inspectp", podID)
		require.Equal(t, "SANDBOX_READY", pod.Status.State, labtest.Hint("the sandbox is ready once its pause process runs"))
		require.Equal(t, "labs", pod.Status.RuntimeHandler)
		require.Equal(t, "running", state(t, podID), labtest.Hint("labs-runc's state (under the handler's Root, %s) has the sandbox running", labsRoot))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pod.Info.Pid))
		require.Equal(t, "/pause\x00", string(cmdline), labtest.Hint("the sandbox's process is the image's /pause"))
	})

	t.Run("CNI gives the pod an address on the bridge", func(t *testing.T) {
		needPod(t)
		_, subnet, _ := net.ParseCIDR(criSubnet)
		ip := net.ParseIP(pod.Status.Network.IP)
		require.True(t, ip != nil && subnet.Contains(ip), labtest.Hint("the pod's IP (%q) comes from the bridge plugin's host-local range %s; the sandbox must have a network namespace of its own for CNI to configure", pod.Status.Network.IP, criSubnet))
		require.Len(t, podVeths(), 1, labtest.Hint("the pod's veth is plugged into %s", criBridge))
		require.NotEqual(t, nsOf(os.Getpid(), "net"), nsOf(pod.Info.Pid, "net"), labtest.Hint("the sandbox has a network namespace of its own"))
	})

	t.Run("create and start run a container in the pod", func(t *testing.T) {
		needPod(t)
		res := n.crictl(t, "create", podID, containerConfig, podConfig)
		require.Equal(t, 0, res.Code, labtest.Hint("CreateContainer only records the container and prepares its root file system; the runtime is not called yet").With(res))
		ctrID = strings.TrimSpace(res.Stdout)
		res = n.crictl(t, "start", ctrID)
		require.Equal(t, 0, res.Code, labtest.Hint("StartContainer has the shim run `labs-runc create` (namespaces given by path: /proc/PID/ns/... of the pause process) and `labs-runc start`").With(res))
		n.inspect(t, &ctr, "inspect", ctrID)
		require.Equal(t, "CONTAINER_RUNNING", ctr.Status.State)
		require.Equal(t, "running", state(t, ctrID))
		cgroups, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", ctr.Info.Pid))
		require.Contains(t, string(cgroups), cgroupParent+"/"+ctrID, labtest.Hint("the container's cgroup is the pod's cgroup parent and its ID, as containerd asks in cgroupsPath"))
	})

	t.Run("the container shares the pod's network, IPC and UTS namespaces", func(t *testing.T) {
		needContainer(t)
		for _, kind := range []string{"net", "ipc", "uts"} {
			require.Equal(t, nsOf(pod.Info.Pid, kind), nsOf(ctr.Info.Pid, kind),
				labtest.Hint("the config's %s namespace has a path (/proc/%d/ns/%s): setns(2) into it instead of making a new one", kind, pod.Info.Pid, kind))
		}
		res := n.crictl(t, "exec", "--sync", ctrID, "sh", "-c", "ip -4 -o addr show eth0; hostname")
		require.Equal(t, 0, res.Code, res.String())
		require.Contains(t, res.Stdout, " inet "+pod.Status.Network.IP+"/", labtest.Hint("the container sees the pod's address on eth0").With(res))
		require.Contains(t, res.Stdout, "labs-pod\n", labtest.Hint("the container has the pod's hostname").With(res))
	})

	t.Run("the container has a PID namespace of its own", func(t *testing.T) {
		needContainer(t)
		require.NotEqual(t, nsOf(pod.Info.Pid, "pid"), nsOf(ctr.Info.Pid, "pid"), labtest.Hint("the config asks for a new PID namespace (no path)"))
		require.NotEqual(t, nsOf(os.Getpid(), "pid"), nsOf(ctr.Info.Pid, "pid"))
		res := n.crictl(t, "exec", "--sync", ctrID, "cat", "/proc/1/cmdline")
		require.Equal(t, 0, res.Code, res.String())
		require.True(t, strings.HasPrefix(res.Stdout, "sh\x00-c\x00"), labtest.Hint("PID 1 in the container is its own command, not the pod's /pause: /proc is mounted from the container's PID namespace").With(res))
	})

	t.Run("a pod that shares its PID namespace shows its containers the pause process", func(t *testing.T) {
		needPod(t)
		// shareProcessNamespace: the pod's PID namespace is the sandbox's, and each
		// container joins it by path, as it joins the network namespace.
		shared := filepath.Join(n.dir, "shared-pod.json")
		writeJSON(t, shared, map[string]any{
			"metadata":      map[string]any{"name": "shared-pod", "namespace": "containerlabs", "uid": suffix + "-shared", "attempt": 0},
			"log_directory": logDir + "-shared",
			"linux": map[string]any{
				"cgroup_parent":    cgroupParent,
				"security_context": map[string]any{"namespace_options": map[string]any{"pid": namespacePod}},
			},
		})
		sharedCtr := filepath.Join(n.dir, "shared-container.json")
		writeJSON(t, sharedCtr, map[string]any{
			"metadata": map[string]any{"name": "box"},
			"image":    map[string]any{"image": imageRef},
			"command":  []string{"sleep", "600"},
			"linux":    map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"pid": namespacePod}}},
		})
		res := n.crictl(t, "run", "--no-pull", "--runtime", "labs", sharedCtr, shared)
		require.Equal(t, 0, res.Code, res.String())
		id := strings.TrimSpace(res.Stdout)
		var sharedPod podStatus
		var c containerStatus
		n.inspect(t, &c, "inspect", id)
		res = n.crictl(t, "ps", "--id", id, "--output", "json")
		var list struct {
			Containers []struct {
				PodSandboxID string `json:"podSandboxId"`
			} `json:"containers"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &list), res.String())
		require.Len(t, list.Containers, 1, res.String())
		n.inspect(t, &sharedPod, "inspectp", list.Containers[0].PodSandboxID)
		require.Equal(t, nsOf(sharedPod.Info.Pid, "pid"), nsOf(c.Info.Pid, "pid"),
			labtest.Hint("the config's pid namespace has the pause process's path: setns(2) into it (and fork, as a new PID namespace takes effect for children)"))
		res = n.crictl(t, "exec", "--sync", id, "cat", "/proc/1/cmdline")
		require.Equal(t, 0, res.Code, res.String())
		require.True(t, strings.HasPrefix(res.Stdout, "/pause\x00"), labtest.Hint("in a shared PID namespace, PID 1 is the pod's pause process").With(res))
		res = n.crictl(t, "rmp", "--force", list.Containers[0].PodSandboxID)
		require.Equal(t, 0, res.Code, res.String())
	})

	t.Run("exec returns the command's output and exit status", func(t *testing.T) {
		needContainer(t)
		res := n.crictl(t, "exec", "--sync", ctrID, "echo", "in the container")
		require.Equal(t, 0, res.Code, labtest.Hint("ExecSync: the shim runs `labs-runc exec --detach --pid-file F --process P` and waits for that PID as its subreaper").With(res))
		require.True(t, strings.HasPrefix(res.Stdout, "in the container\n"), res.String())
		res = n.crictl(t, "exec", "--sync", ctrID, "sh", "-c", "exit 3")
		require.NotEqual(t, 0, res.Code, res.String())
		require.Regexp(t, `exit(ed with| code) 3\b`, res.Stderr, labtest.Hint("the exec'd process's exit status comes back through the shim, which reaped it").With(res))
		// Without --sync, crictl streams the process's output from containerd's stream
		// server, as `kubectl exec` does: stdout and stderr each to its own.
		res = n.crictl(t, "exec", ctrID, "sh", "-c", "echo out; echo err >&2")
		require.Equal(t, 0, res.Code, res.String())
		require.Equal(t, "out\n", res.Stdout)
		require.Contains(t, res.Stderr, "err\n", labtest.Hint("the process's stderr is a pipe of its own, not its stdout").With(res))
	})

	t.Run("logs reads the container's output in the CRI log format", func(t *testing.T) {
		needContainer(t)
		res := n.crictl(t, "logs", ctrID)
		require.Equal(t, 0, res.Code, res.String())
		require.Contains(t, res.Stdout, "started\n", labtest.Hint("the shim copies the process's stdout into the pod's log directory").With(res))
		data, err := os.ReadFile(filepath.Join(logDir, "box.log"))
		require.NoError(t, err, labtest.Hint("the log is log_directory/log_path of the pod and container configs"))
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\S+Z stdout F started\n`, string(data),
			labtest.Hint("each line of a CRI log is TIMESTAMP STREAM F|P TEXT (F a full line, P part of one)"))
	})

	t.Run("stop signals the container, which exits", func(t *testing.T) {
		needContainer(t)
		res := n.crictl(t, "stop", "--timeout", "20", ctrID)
		require.Equal(t, 0, res.Code, labtest.Hint("StopContainer has the shim run `labs-runc kill ID SIGTERM` (SIGKILL after the timeout)").With(res))
		n.inspect(t, &ctr, "inspect", ctrID)
		require.Equal(t, "CONTAINER_EXITED", ctr.Status.State)
		require.Equal(t, 0, ctr.Status.ExitCode, labtest.Hint("SIGTERM reached the container's PID 1, whose trap exits 0; a SIGKILL after the timeout gives 137"))
		require.False(t, alive(ctr.Info.Pid), labtest.Hint("the container's process is gone"))
		require.True(t, waitFor(func() bool { return state(t, ctrID) == "" }),
			labtest.Hint("containerd deletes the task (`labs-runc delete`) once its process has exited; only the CRI's record of the container stays, until rm"))
		res = n.crictl(t, "logs", ctrID)
		require.Contains(t, res.Stdout, "stopping\n", res.String())
	})

	t.Run("rm and rmp remove the container and the pod", func(t *testing.T) {
		needPod(t)
		if ctrID != "" {
			res := n.crictl(t, "rm", ctrID)
			require.Equal(t, 0, res.Code, labtest.Hint("RemoveContainer has the shim run `labs-runc delete`").With(res))
		}
		res := n.crictl(t, "stopp", podID)
		require.Equal(t, 0, res.Code, labtest.Hint("StopPodSandbox kills the pause process and tears the pod's network down").With(res))
		require.False(t, alive(pod.Info.Pid), labtest.Hint("the pause process is gone"))
		res = n.crictl(t, "rmp", podID)
		require.Equal(t, 0, res.Code, labtest.Hint("RemovePodSandbox has the shim run `labs-runc delete` of the sandbox").With(res))
		res = n.crictl(t, "pods", "--quiet")
		require.Empty(t, strings.TrimSpace(res.Stdout), res.String())
		res = n.crictl(t, "ps", "--all", "--quiet")
		require.Empty(t, strings.TrimSpace(res.Stdout), res.String())
	})

	t.Run("nothing is left behind", func(t *testing.T) {
		needPod(t)
		entries, _ := os.ReadDir(labsRoot)
		require.Empty(t, entries, labtest.Hint("labs-runc's state directories are removed by delete"))
		require.True(t, waitFor(func() bool { return len(shimsOf(n.sock)) == 0 }), labtest.Hint("the pod's shim exits once its last task is deleted"))
		require.Empty(t, labtest.MountsUnder(t, n.dir), labtest.Hint("the containers' root file systems, the pod's /dev/shm and its network namespace are unmounted"))
		for _, root := range cgroupRoots() {
			for _, id := range []string{podID, ctrID} {
				_, err := os.Stat(filepath.Join(root, cgroupParent, id))
				require.True(t, os.IsNotExist(err), labtest.Hint("delete removes the cgroup %s", filepath.Join(root, cgroupParent, id)))
			}
		}
		require.Empty(t, podVeths(), labtest.Hint("the pod's veth went with its network namespace"))
		require.Empty(t, n.leasedAddresses(), labtest.Hint("the CNI DEL of stopp releases the pod's address"))
	})
}

// The CRI's NamespaceMode: POD, a namespace the pod's containers share (the sandbox's);
// CONTAINER, a namespace of the container's own.
const (
	namespacePod       = 0
	namespaceContainer = 1
)

// writeJSON writes v as JSON to path.
func writeJSON(t *testing.T, path string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// removeCgroupTree removes a cgroup and everything under it in every hierarchy, deepest
// first, and then its top directory if nothing else is in it; it fails the test if a cgroup
// holds a process.
func removeCgroupTree(t *testing.T, path string) {
	top := strings.Split(strings.TrimPrefix(path, "/"), "/")[0]
	for _, root := range cgroupRoots() {
		var tree []string
		_ = filepath.WalkDir(filepath.Join(root, path), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, p)
			}
			return nil
		})
		for _, dir := range slices.Backward(tree) {
			if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
				t.Errorf("remove cgroup %s: %v", dir, err)
			}
		}
		_ = unix.Rmdir(filepath.Join(root, top))
	}
}

// cgroupRoots lists the roots of the cgroup hierarchies: /sys/fs/cgroup on a v2 host, each
// controller's (and the unified one) on a v1 or hybrid host.
func cgroupRoots() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var roots []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		if e.IsDir() {
			roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return roots
}
