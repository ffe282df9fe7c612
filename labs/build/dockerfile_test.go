package build

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, text string) *Dockerfile {
	t.Helper()
	df, err := Parse(strings.NewReader(text), "Dockerfile")
	require.NoError(t, err)
	return df
}

func TestParseInstructions(t *testing.T) {
	df := parse(t, `# syntax is a comment here
ARG BASE=busybox
FROM $BASE AS Build
RUN echo hi
RUN ["make", "all"]
COPY --from=0 --chown=app:app a b /dst/
ADD ["with space", "/dst"]
ENV A=1 B="two words"
ENV OLD style value
ARG X Y=2
WORKDIR /app
USER nobody
EXPOSE 80 53/udp
LABEL version="1.0"
CMD echo hello
ENTRYPOINT ["/bin/app"]
VOLUME ["/data"]
VOLUME /a /b
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
STOPSIGNAL SIGINT
FROM scratch
`)
	require.Len(t, df.Args, 1)
	assert.Equal(t, []string{"BASE", "busybox"}, df.Args[0].Args)
	require.Len(t, df.Stages, 2)
	st := df.Stages[0]
	assert.Equal(t, "build", st.Name, "stage names are lower-cased")
	assert.Equal(t, []string{"$BASE", "AS", "Build"}, st.From.Args)
	assert.Equal(t, 3, st.From.Line)
	byLine := map[int]Instruction{}
	for _, inst := range st.Instructions {
		byLine[inst.Line] = inst
	}
	assert.Equal(t, Instruction{Line: 4, Command: "RUN", Flags: map[string]string{}, Args: []string{"echo hi"}, Text: "RUN echo hi"}, byLine[4])
	assert.Equal(t, []string{"make", "all"}, byLine[5].Args)
	assert.True(t, byLine[5].JSON)
	assert.Equal(t, map[string]string{"from": "0", "chown": "app:app"}, byLine[6].Flags)
	assert.Equal(t, []string{"a", "b", "/dst/"}, byLine[6].Args)
	assert.Equal(t, []string{"with space", "/dst"}, byLine[7].Args)
	assert.Equal(t, []string{"A", "1", "B", `"two words"`}, byLine[8].Args, "quotes stay until Expand")
	assert.Equal(t, []string{"OLD", "style value"}, byLine[9].Args, "ENV K V: the value is the rest of the line")
	assert.Equal(t, []string{"X", noDefault, "Y", "2"}, byLine[10].Args)
	assert.Equal(t, []string{"/app"}, byLine[11].Args)
	assert.Equal(t, []string{"80", "53/udp"}, byLine[13].Args)
	assert.Equal(t, []string{"echo hello"}, byLine[15].Args)
	assert.False(t, byLine[15].JSON)
	assert.True(t, byLine[16].JSON)
	assert.Equal(t, []string{"/data"}, byLine[17].Args)
	assert.Equal(t, []string{"/a", "/b"}, byLine[18].Args)
	assert.Equal(t, []string{"/bin/ash", "-eo", "pipefail", "-c"}, byLine[19].Args)
	assert.Equal(t, "", df.Stages[1].Name)
	assert.Equal(t, []string{"scratch"}, df.Stages[1].From.Args)
}

func TestParseContinuationsAndComments(t *testing.T) {
	df := parse(t, "FROM busybox\n\nrun echo one && \\\n# a comment inside is dropped\n    echo two \\\n\n  && echo three\nCMD [\"sh\"]  \n")
	insts := df.Stages[0].Instructions
	require.Len(t, insts, 2)
	assert.Equal(t, 3, insts[0].Line, "an instruction's line is where it starts")
	assert.Equal(t, "RUN", insts[0].Command, "instructions are case-insensitive")
	assert.Equal(t, "echo one &&     echo two   && echo three", insts[0].Args[0])
	assert.Equal(t, 8, insts[1].Line)
	assert.Equal(t, `CMD ["sh"]`, insts[1].Text)
}

func TestParseShellFormWhenNotJSON(t *testing.T) {
	df := parse(t, "FROM busybox\nCMD [not json\n")
	inst := df.Stages[0].Instructions[0]
	assert.False(t, inst.JSON)
	assert.Equal(t, []string{"[not json"}, inst.Args)
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"FROM busybox\n\n# comment\nRUN true\nFOO bar\n", "Dockerfile:5: unknown instruction FOO"},
		{"ENV A=1\nFROM busybox\n", "Dockerfile:1: ENV before FROM"},
		{"FROM busybox\nRUN\n", "Dockerfile:2: RUN needs arguments"},
		{"FROM busybox\nCOPY onlyone\n", "Dockerfile:2: COPY needs a source and a destination"},
		{"FROM busybox\nCOPY --form=x a b\n", "Dockerfile:2: COPY does not take the option --form"},
		{"FROM busybox\nADD --from=x a b\n", "Dockerfile:2: ADD does not take the option --from"},
		{"FROM busybox AS\n", "Dockerfile:1: FROM takes an image"},
		{"FROM busybox AS 1st\n", "Dockerfile:1: invalid stage name"},
		{"FROM busybox\nSHELL /bin/bash\n", "Dockerfile:2: SHELL takes a JSON array"},
		{"FROM busybox\nENV A=\"unterminated\n", "Dockerfile:2: unterminated \" quote"},
		{"FROM busybox\nENV lonely\n", "Dockerfile:2: ENV lonely needs a value"},
		{"FROM busybox\nLABEL =x\n", "Dockerfile:2: LABEL: \"=x\" is not NAME=VALUE"},
		{"FROM busybox\nARG 9lives\n", "Dockerfile:2: ARG: invalid name"},
		{"FROM busybox\nONBUILD RUN true\n", "Dockerfile:2: ONBUILD is not supported"},
		{"FROM busybox\nHEALTHCHECK true\n", "Dockerfile:2: HEALTHCHECK takes NONE or CMD COMMAND"},
		{"FROM busybox\nHEALTHCHECK --interval=1s NONE\n", "Dockerfile:2: HEALTHCHECK NONE takes no command and no options"},
		{"FROM busybox\nHEALTHCHECK --every=1s CMD true\n", "Dockerfile:2: HEALTHCHECK does not take the option --every"},
		{"FROM busybox\nHEALTHCHECK CMD\n", "Dockerfile:2: HEALTHCHECK CMD needs a command"},
		{"# nothing\n", "Dockerfile: no FROM instruction"},
	} {
		_, err := Parse(strings.NewReader(tc.text), "Dockerfile")
		require.Error(t, err, tc.text)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := Parse(strings.NewReader("FROM busybox\nFOO\n"), "Dockerfile")
	var le *LineError
	require.True(t, errors.As(err, &le))
	assert.Equal(t, 2, le.Line)
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"NAME": "world", "EMPTY": "", "DIR": "/app"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		`$NAME`:                 "world",
		`${NAME}s`:              "worlds",
		`$NAME.txt`:             "world.txt",
		`${DIR}/bin`:            "/app/bin",
		`${UNSET:-fallback}`:    "fallback",
		`${EMPTY:-fallback}`:    "fallback",
		`${EMPTY-fallback}`:     "",
		`${NAME:-fallback}`:     "world",
		`${NAME:+set}`:          "set",
		`${UNSET:+set}`:         "",
		`${UNSET:-$NAME}`:       "world",
		`$UNSET`:                "",
		`'$NAME'`:               "$NAME",
		`"hello $NAME"`:         "hello world",
		`"a \"quote\" \$NAME"`:  `a "quote" $NAME`,
		`\$NAME`:                "$NAME",
		`price$`:                "price$",
		`a\ b`:                  "a b",
		`"${UNSET:-two words}"`: "two words",
	} {
		got, err := Expand(in, lookup)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{`${NAME`, `${}`, `${NAME/x/y}`, `"open`, `'open`, `${UNSET:?must be set}`} {
		_, err := Expand(bad, lookup)
		assert.Error(t, err, bad)
	}
}

func TestHealthcheck(t *testing.T) {
	df := parse(t, `FROM busybox
HEALTHCHECK --interval=500ms --timeout=2s --start-period=1m --retries=5 CMD wget -q -O /dev/null http://localhost/
HEALTHCHECK CMD ["/bin/check", "--quick"]
HEALTHCHECK NONE
`)
	insts := df.Stages[0].Instructions
	require.Len(t, insts, 3)
	hc, err := healthConfig(insts[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"CMD-SHELL", "wget -q -O /dev/null http://localhost/"}, hc.Test, "the shell form runs with the container's shell")
	assert.Equal(t, "500ms 2s 1m0s 5", fmt.Sprint(hc.Interval, " ", hc.Timeout, " ", hc.StartPeriod, " ", hc.Retries))
	hc, err = healthConfig(insts[1])
	require.NoError(t, err)
	assert.Equal(t, []string{"CMD", "/bin/check", "--quick"}, hc.Test)
	assert.Zero(t, hc.Interval, "unset options keep Docker's defaults")
	hc, err = healthConfig(insts[2])
	require.NoError(t, err)
	assert.Equal(t, []string{"NONE"}, hc.Test)

	for text, want := range map[string]string{
		"HEALTHCHECK --interval=soon CMD true":    `--interval "soon"`,
		"HEALTHCHECK --interval=-1s CMD true":     "--interval -1s",
		"HEALTHCHECK --timeout=10ns CMD true":     "--timeout 10ns",
		"HEALTHCHECK --retries=-2 CMD true":       `--retries "-2"`,
		"HEALTHCHECK --retries=99999999999 CMD x": `--retries "99999999999"`,
	} {
		df := parse(t, "FROM busybox\n"+text+"\n")
		_, err := healthConfig(df.Stages[0].Instructions[0])
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, "the error names the bad value")
	}
}
