package process

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunPassesExitCodeThrough(t *testing.T) {
	code, err := Run(exec.Command("sh", "-c", "exit 42"))
	require.NoError(t, err)
	assert.Equal(t, 42, code)
}

func TestRunReportsSignalAs128Plus(t *testing.T) {
	code, err := Run(exec.Command("sh", "-c", "kill -KILL $$"))
	require.NoError(t, err)
	assert.Equal(t, 128+int(syscall.SIGKILL), code)
}

func TestRunForwardsSIGTERM(t *testing.T) {
	// The child traps TERM and exits 7: proof that the signal sent to us reached it.
	cmd := exec.Command("sh", "-c", `trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	go func() {
		buf := make([]byte, 6)
		_, _ = out.Read(buf)
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	}()
	result := make(chan int, 1)
	go func() {
		code, err := Run(cmd)
		assert.NoError(t, err)
		result <- code
	}()
	select {
	case code := <-result:
		assert.Equal(t, 7, code, "the child should have trapped the forwarded SIGTERM")
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the child never received the forwarded SIGTERM")
	}
}

func TestRunFailsToStartMissingCommand(t *testing.T) {
	_, err := Run(exec.Command("/nonexistent/command"))
	assert.ErrorContains(t, err, "/nonexistent/command")
}
