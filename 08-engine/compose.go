package main

import (
	"errors"

	"containerlabs/labs/engine"
)

func compose(e *engine.Engine, args []string) (int, error) { return 125, errors.New("not yet") }
