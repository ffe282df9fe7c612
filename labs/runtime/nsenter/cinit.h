// The container's init in C (cinit.c), which nsenter's constructor runs instead of returning
// to the Go runtime when its plan says "stay".
#ifndef LABS_CINIT_H
#define LABS_CINIT_H

// labs_cinit reads the init's program from the sync socket sync_fd and carries it out. It
// never returns: it execs the container's command, or reports an error and exits.
void labs_cinit(int sync_fd) __attribute__((noreturn));

#endif
