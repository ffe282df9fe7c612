package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/image"
)

func sampleContainer() *Container {
	now := time.Now()
	return &Container{
		ID: "4242" + strings.Repeat("0", 60), Name: "web", Image: "labs/busybox:latest", Created: now.Add(-time.Hour),
		Config:  Config{Image: "labs/busybox", Cmd: []string{"sh", "-c", "httpd -f"}, NetworkMode: "bridge"},
		Mounts:  []Mount{{Type: "volume", Name: "data", Source: "/v/data/_data", Destination: "/data", RW: true}},
		Network: NetworkState{IPAddress: "10.88.0.5", Ports: []string{"8080->80/tcp"}},
		State:   State{Status: StatusRunning, Pid: 1234567, ExitCode: 0, StartedAt: now.Add(-5 * time.Minute)},
	}
}

func render(t *testing.T, format string, v any) string {
	f, err := ParseFormat(format)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, f.Execute(&b, v))
	return b.String()
}

func TestInspectTemplatesNameTheDocumentsKeys(t *testing.T) {
	doc, err := Document(sampleContainer())
	require.NoError(t, err)
	for format, want := range map[string]string{
		"{{.State.Pid}}":                       "1234567", // not 1.234567e+06
		"{{.State.Status}} {{.State.Running}}": "running true",
		"{{.NetworkSettings.IPAddress}}":       "10.88.0.5",
		"{{.Id}}":                              "4242" + strings.Repeat("0", 60),
		"{{.Name}} {{.Config.Image}}":          "web labs/busybox",
		`{{if eq .State.ExitCode 0}}ok{{end}}`: "ok",
		`{{range .Mounts}}{{.Source}}:{{.Destination}} {{.RW}}{{end}}`: "/v/data/_data:/data true",
		`{{upper .Name}} {{lower "AB"}} {{title "two words"}}`:         "WEB ab Two Words",
		`{{join (split "a,b" ",") "+"}}`:                               "a+b",
	} {
		assert.Equal(t, want+"\n", render(t, format, doc), format)
	}
	out := render(t, "{{json .Mounts}}", doc)
	var mounts []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &mounts), out)
	assert.Equal(t, "/data", mounts[0]["Destination"])

	f, err := ParseFormat("{{.NoSuchKey}}")
	require.NoError(t, err)
	assert.ErrorContains(t, f.Execute(&bytes.Buffer{}, doc), "NoSuchKey", "a misspelt key is an error, not empty output")
	_, err = ParseFormat("{{.Name")
	assert.Error(t, err)
}

func TestTableFormatsPrintAHeaderAndAlign(t *testing.T) {
	c := sampleContainer()
	f, err := ParseFormat(`table {{.ID}}\t{{.Names}}\t{{.Status}}`)
	require.NoError(t, err)
	assert.True(t, f.Table())
	var b bytes.Buffer
	require.NoError(t, WriteRows(&b, f, ContainerHeader, []ContainerSummary{Summarize(c, time.Now())}))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^CONTAINER ID\s+NAMES\s+STATUS$`, lines[0])
	assert.Regexp(t, `^424200000000\s+web\s+Up 5 minutes$`, lines[1])
	assert.Equal(t, strings.Index(lines[0], "NAMES"), strings.Index(lines[1], "web"), "columns line up")

	f, err = ParseFormat("{{.Names}}:{{.Ports}}")
	require.NoError(t, err)
	b.Reset()
	require.NoError(t, WriteRows(&b, f, ContainerHeader, []ContainerSummary{Summarize(c, time.Now())}))
	assert.Equal(t, "web:8080->80/tcp\n", b.String(), "without table, no header")
	assert.Equal(t, `"sh -c httpd -f"`, Summarize(c, time.Now()).Command)
}

func TestContainerFilters(t *testing.T) {
	c := sampleContainer()
	exited := sampleContainer()
	exited.Name, exited.ID, exited.State = "job", "99"+strings.Repeat("0", 62), State{Status: StatusExited, ExitCode: 3}
	match := func(args ...string) []string {
		f, err := ParseFilters(args, ContainerFilterKeys)
		require.NoError(t, err, args)
		var names []string
		for _, x := range []*Container{c, exited} {
			if f.MatchContainer(x) {
				names = append(names, x.Name)
			}
		}
		return names
	}
	assert.Equal(t, []string{"web", "job"}, match())
	assert.Equal(t, []string{"job"}, match("status=exited"))
	assert.Equal(t, []string{"web", "job"}, match("status=exited", "status=running"), "one key's values are alternatives")
	assert.Empty(t, match("status=exited", "name=web"), "different keys must all match")
	assert.Equal(t, []string{"web"}, match("name=^w"))
	assert.Equal(t, []string{"job"}, match("id=99"))
	assert.Equal(t, []string{"job"}, match("exited=3"))
	assert.Equal(t, []string{"web", "job"}, match("ancestor=labs/busybox"))
	assert.Equal(t, []string{"web", "job"}, match("volume=data"))
	for _, bad := range []string{"status=sleeping", "colour=red", "name"} {
		_, err := ParseFilters([]string{bad}, ContainerFilterKeys)
		assert.Error(t, err, bad)
	}
}

func TestImageAndVolumeFilters(t *testing.T) {
	id := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	tagged := image.Summary{Ref: "localhost:5000/labs/app:v1", ID: id, Digest: id}
	dangling := image.Summary{ID: id, Digest: id}
	f, err := ParseFilters([]string{"dangling=true"}, ImageFilterKeys)
	require.NoError(t, err)
	assert.True(t, f.MatchImage(dangling))
	assert.False(t, f.MatchImage(tagged))
	f, err = ParseFilters([]string{"reference=localhost:5000/labs/*:v1"}, ImageFilterKeys)
	require.NoError(t, err)
	assert.True(t, f.MatchImage(tagged))
	assert.False(t, f.MatchImage(dangling))
	s := SummarizeImage(dangling, time.Now())
	assert.Equal(t, []string{"<none>", "<none>"}, []string{s.Repository, s.Tag})
	s = SummarizeImage(tagged, time.Now())
	assert.Equal(t, []string{"localhost:5000/labs/app", "v1", "abababababab"}, []string{s.Repository, s.Tag, s.ID})

	f, err = ParseFilters([]string{"dangling=true"}, VolumeFilterKeys)
	require.NoError(t, err)
	vol := &Volume{Name: "data"}
	assert.True(t, f.MatchVolume(vol, nil))
	assert.False(t, f.MatchVolume(vol, []string{"web"}))
	_, err = ParseFilters([]string{"dangling=maybe"}, VolumeFilterKeys)
	assert.Error(t, err)
}
