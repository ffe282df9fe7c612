package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"containerlabs/labs/rootfs"
)

// makeRootfs fills a directory with programs: copied from the host with their libraries,
// a busybox userland, or an unpacked tar.
func makeRootfs(args []string) error {
	flags := flag.NewFlagSet("rootfs", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	busybox := flags.Bool("busybox", false, "fill DIR with busybox")
	fromTar := flags.String("from-tar", "", "unpack this tar into DIR")
	if err := flags.Parse(args); err != nil {
		return errUsage
	}
	rest := flags.Args()
	switch {
	case *busybox && len(rest) == 1:
		if err := makeDir(rest[0]); err != nil {
			return err
		}
		return rootfs.Busybox(rest[0])
	case *fromTar != "" && len(rest) == 1:
		return extract(*fromTar, rest[0])
	case !*busybox && *fromTar == "" && len(rest) >= 2:
		if err := makeDir(rest[0]); err != nil {
			return err
		}
		copied, err := rootfs.CopyPrograms(rest[0], rest[1:]...)
		for _, path := range copied {
			fmt.Println("copied", path)
		}
		return err
	}
	return errUsage
}

func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make rootfs directory: %w", err)
	}
	return nil
}

func extract(file, dir string) error {
	in := os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("open tar: %w", err)
		}
		defer f.Close()
		in = f
	}
	if err := makeDir(dir); err != nil {
		return err
	}
	return rootfs.ExtractTar(in, dir)
}

// ldd prints what a program needs to start, in the format of ldd(1).
func ldd(program string) error {
	path, err := exec.LookPath(program)
	if err != nil {
		return err
	}
	deps, err := rootfs.Closure(path)
	if err != nil {
		return err
	}
	if len(deps) == 0 {
		fmt.Println("\tstatically linked")
	}
	for _, d := range deps {
		if d.Interpreter {
			fmt.Printf("\t%s (the ELF interpreter)\n", d.Path)
			continue
		}
		fmt.Printf("\t%s => %s\n", d.Name, d.Path)
	}
	return nil
}
