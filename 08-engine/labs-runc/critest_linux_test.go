package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
)

// critestSkip names the critest specs that are not run: they test containerd's image
// service by pulling images by name from public registries, which this host cannot reach
// (and which say nothing about the runtime).
var critestSkip = []string{
	`Image Manager`,
	`Image Identifier Consistency`,
	`Image Consistency`,
	`Image Volume`,
}

// webRef is the web server critest's networking tests run (its test-images file names it).
const webRef = "labs.local/web:latest"

// critestImages are the images critest's tests run, built offline: busybox, the web server
// (which also answers to the nginx and httpd names the tests use), the host-network web
// server, and the no_new_privs image. names maps a role to the name critest looks for
// (scripts/cri-tools.sh reads them from critest's source into its images file).
func critestImages(names map[string]string) []criImage {
	web := criImage{refs: []string{webRef}, root: webRoot, config: v1.Config{
		Entrypoint: webEntrypoint, Env: []string{"LISTEN=80"}}}
	hostnet := criImage{root: webRoot, config: v1.Config{
		Entrypoint: webEntrypoint, Env: []string{"LISTEN=127.0.0.1:12003"}}}
	// nnp is a set-user-ID root copy of the probe: it prints the effective uid it runs with.
	nnp := criImage{root: nnpRoot, config: v1.Config{Entrypoint: []string{"/nnp", "euid", "Effective uid: "}}}
	for role, name := range names {
		switch role {
		case "nginx", "httpd":
			web.refs = append(web.refs, name)
		case "hostnet-nginx":
			hostnet.refs = append(hostnet.refs, name)
		case "nonewprivs":
			nnp.refs = append(nnp.refs, name)
		}
	}
	images := []criImage{{refs: []string{imageRef}, root: critestBusyboxRoot, config: busyboxImage.config}, web}
	for _, img := range []criImage{hostnet, nnp} {
		if len(img.refs) > 0 {
			images = append(images, img)
		}
	}
	return images
}

// critestBusyboxRoot is busybox as its published image has it, and with the two programs
// critest's tests run that Debian's busybox lacks: every applet is a hard link to
// /bin/busybox, not a symlink (a masked /bin/ls must hide ls, not busybox itself), and the
// host's ipcs (the HostIpc tests) and pgrep (execSync with timeout) come with their
// libraries.
func critestBusyboxRoot(t *testing.T, root string) {
	busyboxRoot(t, root)
	busybox := filepath.Join(root, "bin", "busybox")
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink == 0 {
			return err
		}
		if target, _ := os.Readlink(path); target != "/bin/busybox" {
			return nil
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		return os.Link(busybox, path)
	}))
	for _, program := range []string{"ipcs", "pgrep"} {
		if _, err := exec.LookPath(program); err != nil {
			t.Logf("no %s on this host: the tests that run it in a container will fail", program)
			continue
		}
		_, err := rootfs.CopyPrograms(root, program)
		require.NoError(t, err, "copy %s into the test image", program)
	}
}

// webEntrypoint starts the web stand-in as nginx's master process looks: its executable is
// /usr/sbin/nginx (a copy of busybox, run as its sh applet), its command line says
// "master process".
var webEntrypoint = []string{"/bin/sh", "-c", `exec -a sh /usr/sbin/nginx /usr/local/bin/serve "nginx: master process"`}

// serveScript serves /www with busybox's httpd on $LISTEN; the tests read the shell's PID
// from nginx's pid file, and the httpd tests look for "httpd" in the log.
const serveScript = `trap 'exit 0' TERM INT
echo $$ >/var/run/nginx.pid
echo "httpd: serving /www on $LISTEN"
httpd -p "$LISTEN" -h /www
while :; do sleep 3600 & wait $!; done
`

func webRoot(t *testing.T, root string) {
	busyboxRoot(t, root)
	for _, dir := range []string{"www", "var/run", "usr/local/bin"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
	}
	_, err := rootfs.CopyFile(filepath.Join(root, "bin/busybox"), filepath.Join(root, "usr/sbin/nginx"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/local/bin/serve"), []byte(serveScript), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "www/index.html"), []byte("<p>served by busybox httpd</p>\n"), 0o644))
}

func nnpRoot(t *testing.T, root string) {
	busyboxRoot(t, root)
	labtest.InstallProbe(t, root)
	require.NoError(t, os.Rename(filepath.Join(root, "probe"), filepath.Join(root, "nnp")))
	// os.Chmod takes the set-user-ID bit as os.ModeSetuid; 0o4000 is not it, and is dropped.
	require.NoError(t, os.Chmod(filepath.Join(root, "nnp"), 0o755|os.ModeSetuid))
}

// critestImageNames reads the images file scripts/cri-tools.sh wrote beside critest.
func critestImageNames(t *testing.T, dir string) map[string]string {
	names := map[string]string{}
	f, err := os.Open(filepath.Join(dir, "images"))
	if err != nil {
		t.Logf("no list of critest's images (%v): the tests that use them will fail", err)
		return names
	}
	defer f.Close()
	for s := bufio.NewScanner(f); s.Scan(); {
		if role, name, ok := strings.Cut(s.Text(), " "); ok {
			names[role] = name
		}
	}
	return names
}

// specReport is the part of a ginkgo JSON report that the table needs.
type specReport struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
	Failure                 struct{ Message string }
}

// critestResult is how one spec went on one runtime: ginkgo's state (passed, failed,
// skipped, ...) and the first line of the failure or skip message.
type critestResult struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

// TestCritest runs critest, Kubernetes' CRI conformance suite, against containerd with each
// runtime handler in $CRITEST_HANDLERS ("runc labs"; scripts/critest.sh sets it, and without
// it the test is skipped, as the suite takes minutes per runtime). Each handler's results go
// to $CRITEST_OUT/HANDLER.json and critest's output to $CRITEST_OUT/HANDLER.log; the table
// of every handler's latest results goes to $CRITEST_OUT/table.md. It fails if labs-runc
// fails a test that runc passes.
func TestCritest(t *testing.T) {
	handlers := strings.Fields(os.Getenv("CRITEST_HANDLERS"))
	out := os.Getenv("CRITEST_OUT")
	if len(handlers) == 0 || out == "" {
		t.Skip("the CRI conformance suite runs from scripts/critest.sh")
	}
	critest := criTool(t, "critest")
	names := critestImageNames(t, filepath.Dir(critest))
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			leaveHostAsFound(t)
			n := startCRINode(t, criOptions{portmap: true, images: critestImages(names)})
			if _, ok := n.roots[handler]; !ok {
				t.Fatalf("no runtime handler %q: the node has %v", handler, n.roots)
			}
			imagesFile := filepath.Join(n.dir, "critest-images.yaml")
			require.NoError(t, os.WriteFile(imagesFile, []byte(fmt.Sprintf(
				"defaultTestContainerImage: %s\nwebServerTestImage: %s\n", imageRef, webRef)), 0o644))
			report := filepath.Join(n.dir, "critest.json")
			args := []string{
				"-runtime-endpoint", "unix://" + n.sock, "-image-endpoint", "unix://" + n.sock,
				"-runtime-handler", handler, "-test-images-file", imagesFile, "-config", filepath.Join(n.dir, "crictl.yaml"),
				"-ginkgo.skip", strings.Join(critestSkip, "|"), "-ginkgo.json-report", report,
				"-ginkgo.no-color", "-ginkgo.timeout", "2h",
			}
			args = append(args, strings.Fields(os.Getenv("CRITEST_ARGS"))...)
			started := time.Now()
			res := labtest.Command(t, labtest.Options{Timeout: 2 * time.Hour, Dir: n.dir}, critest, args...)
			t.Logf("critest on %s took %s", handler, time.Since(started).Round(time.Second))
			require.NoError(t, os.WriteFile(filepath.Join(out, handler+".log"), []byte(res.Stdout+res.Stderr), 0o644))
			var reports []struct{ SpecReports []specReport }
			data, err := os.ReadFile(report)
			require.NoError(t, err, "critest wrote no report: %s", res)
			require.NoError(t, json.Unmarshal(data, &reports))
			results := map[string]critestResult{}
			for _, r := range reports {
				for _, spec := range r.SpecReports {
					if spec.LeafNodeType == "It" {
						name := strings.Join(append(spec.ContainerHierarchyTexts, spec.LeafNodeText), " ")
						results[name] = critestResult{spec.State, oneLine(spec.Failure.Message)}
					}
				}
			}
			data, err = json.MarshalIndent(results, "", "  ")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(out, handler+".json"), data, 0o644))
		})
	}

	// The table: every handler that has results, from this run or an earlier one.
	results := map[string]map[string]critestResult{}
	var ran []string
	for _, handler := range []string{"runc", "labs"} {
		data, err := os.ReadFile(filepath.Join(out, handler+".json"))
		if err != nil {
			continue
		}
		var r map[string]critestResult
		require.NoError(t, json.Unmarshal(data, &r))
		ran = append(ran, handler)
		for name, result := range r {
			if results[name] == nil {
				results[name] = map[string]critestResult{}
			}
			results[name][handler] = result
		}
	}
	table := critestTable(ran, results)
	require.NoError(t, os.WriteFile(filepath.Join(out, "table.md"), []byte(table), 0o644))
	if len(ran) == 2 {
		for name, r := range results {
			if r["runc"].State == "passed" {
				assert.Equal(t, "passed", r["labs"].State, "%s\npasses on runc, not on labs-runc: %s", name, r["labs"].Message)
			}
		}
	}
}

// runtimeName is how the table heads a handler's column: by the runtime it runs.
var runtimeName = map[string]string{"labs": "labs-runc", "runc": "runc"}

// critestTable is the results as a Markdown table, a row per spec and a column per handler,
// with the totals underneath.
func critestTable(handlers []string, results map[string]map[string]critestResult) string {
	var b strings.Builder
	b.WriteString("| test |")
	rule := "| --- |"
	for _, h := range handlers {
		fmt.Fprintf(&b, " %s |", runtimeName[h])
		rule += " --- |"
	}
	b.WriteString("\n" + rule + "\n")
	names := make([]string, 0, len(results))
	for name := range results {
		names = append(names, name)
	}
	slices.Sort(names)
	totals := map[string]map[string]int{}
	for _, name := range names {
		fmt.Fprintf(&b, "| %s |", strings.ReplaceAll(name, "|", `\|`))
		for _, h := range handlers {
			r := results[name][h]
			cell := r.State
			switch {
			case r.State == "":
				cell = "-"
			case r.State == "skipped" && r.Message == "":
				cell = "not run"
			case r.State == "skipped":
				cell = "skipped: " + r.Message
			case r.State != "passed" && r.Message != "":
				cell += ": " + clip(r.Message, 160)
			}
			fmt.Fprintf(&b, " %s |", strings.ReplaceAll(cell, "|", `\|`))
			if totals[h] == nil {
				totals[h] = map[string]int{}
			}
			totals[h][r.State]++
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, h := range handlers {
		fmt.Fprintf(&b, "%s: %d passed, %d failed, %d skipped or not run\n", runtimeName[h], totals[h]["passed"],
			len(names)-totals[h]["passed"]-totals[h]["skipped"]-totals[h][""], totals[h]["skipped"])
	}
	return b.String()
}

// clip shortens s to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// oneLine is a failure message on one line: ginkgo's own spread over several ("Expected\n
// <string>: ...\nto be empty").
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// leaveHostAsFound undoes, when the test ends, what critest's tests leave on the host: the
// cgroup parent it gives pods when the runtime does not report its cgroup driver
// (/test.slice), the SysV shared memory segments its HostIpc tests make with ipcmk, and the
// iptables chains of CNI's portmap plugin (a pod's rules go with the pod, the chains stay).
// Registered before the node starts, so it runs after the node is gone.
func leaveHostAsFound(t *testing.T) {
	hadSlice := false
	for _, root := range cgroupRoots() {
		if _, err := os.Stat(filepath.Join(root, "test.slice")); err == nil {
			hadSlice = true
		}
	}
	segments := shmSegments()
	chains := iptablesChains()
	t.Cleanup(func() {
		if !hadSlice {
			removeCgroupTree(t, "/test.slice")
		}
		for _, id := range shmSegments() {
			if !slices.Contains(segments, id) {
				if out, err := exec.Command("ipcrm", "-m", id).CombinedOutput(); err != nil {
					t.Errorf("ipcrm -m %s: %v %s", id, err, out)
				}
			}
		}
		removeNewChains(t, chains)
	})
}

// shmSegments lists the IDs of the host's SysV shared memory segments.
//
// Equivalent to: `ipcs -m`.
func shmSegments() []string {
	data, _ := os.ReadFile("/proc/sysvipc/shm")
	var ids []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 {
			ids = append(ids, f[1])
		}
	}
	return ids
}

// iptablesTables are the tables CNI's plugins write to.
var iptablesTables = []string{"nat", "filter", "mangle"}

// iptablesChains lists the user-defined chains of those tables, as TABLE/CHAIN.
func iptablesChains() []string {
	var chains []string
	for _, table := range iptablesTables {
		out, _ := exec.Command("iptables", "-t", table, "-S").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if chain, ok := strings.CutPrefix(line, "-N "); ok {
				chains = append(chains, table+"/"+chain)
			}
		}
	}
	return chains
}

var jumpTarget = regexp.MustCompile(` -j (\S+)`)

// removeNewChains removes the chains that are not in before: first every rule that jumps to
// one, then the chains themselves.
//
// Equivalent to: `iptables -t T -D CHAIN RULE...; iptables -t T -F C; iptables -t T -X C`.
func removeNewChains(t *testing.T, before []string) {
	var made []string
	for _, c := range iptablesChains() {
		if !slices.Contains(before, c) {
			made = append(made, c)
		}
	}
	for _, table := range iptablesTables {
		out, _ := exec.Command("iptables", "-t", table, "-S").Output()
		for _, line := range strings.Split(string(out), "\n") {
			m := jumpTarget.FindStringSubmatch(line)
			rule, ok := strings.CutPrefix(line, "-A ")
			if !ok || m == nil || !slices.Contains(made, table+"/"+m[1]) {
				continue
			}
			args := append([]string{"-t", table, "-D"}, splitRule(rule)...)
			if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
				t.Errorf("iptables %s: %v %s", strings.Join(args, " "), err, out)
			}
		}
	}
	for _, step := range []string{"-F", "-X"} {
		for _, c := range made {
			table, chain, _ := strings.Cut(c, "/")
			if out, err := exec.Command("iptables", "-t", table, step, chain).CombinedOutput(); err != nil {
				t.Errorf("iptables -t %s %s %s: %v %s", table, step, chain, err, out)
			}
		}
	}
}

// splitRule splits a rule as `iptables -S` prints it into arguments, keeping a quoted
// comment ("...") as one.
func splitRule(rule string) []string {
	var args []string
	for rule = strings.TrimSpace(rule); rule != ""; rule = strings.TrimSpace(rule) {
		if strings.HasPrefix(rule, `"`) {
			end := strings.Index(rule[1:], `"`) + 1
			args = append(args, rule[1:end])
			rule = rule[end+1:]
			continue
		}
		arg, rest, _ := strings.Cut(rule, " ")
		args, rule = append(args, arg), rest
	}
	return args
}
