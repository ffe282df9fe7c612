package image

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
)

// Pull fetches the image ref names from its registry (the host part of ref) over the
// registry HTTP API v2 and adds it to the store under ref, returning its manifest digest.
// Credentials come from the Docker config (~/.docker/config.json and its credential
// helpers), as `docker login` left them. Blobs the store already has are not downloaded,
// so a pull that failed half-way resumes with the layers it did not finish. A
// multi-platform index is resolved to the image for opts.Platform.
//
// Equivalent to: `docker pull REF`.
func (s *Store) Pull(ctx context.Context, ref string, opts Options) (v1.Hash, error) {
	// lab:07 begin: parse ref for the registry (remoteRef), fetch its descriptor (remote.Get with remoteOptions), resolve it to an image (desc.Image) and add that to the store (s.Add)
	r, err := remoteRef(ref, opts)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Get(r, remoteOptions(ctx, opts)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return s.Add(ctx, ref, img, opts)
	// lab:07 starter:
	// return v1.Hash{}, errors.New("TODO(lab 07): pull: remote.Get the image and s.Add it")
	// lab:07 end
}

// Push uploads the image ref names to its registry and returns its manifest digest, which
// is the same there as here. Blobs the registry already has (in any repository it lets
// this client read from) are not sent again.
//
// Equivalent to: `docker push REF`.
func (s *Store) Push(ctx context.Context, ref string, opts Options) (v1.Hash, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()
	// lab:07 begin: find the image (s.image), parse ref for its registry (remoteRef) and upload it (remote.Write, with remoteOptions); its digest there is the local one, desc.Digest
	img, desc, err := s.image(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	r, err := remoteRef(ref, opts)
	if err != nil {
		return v1.Hash{}, err
	}
	ropts := remoteOptions(ctx, opts)
	if opts.Progress != nil {
		// go-containerregistry reports on a channel and closes it when the push ends.
		updates, forwarded := make(chan v1.Update, 16), make(chan struct{})
		go func() {
			defer close(forwarded)
			for u := range updates {
				if u.Error == nil {
					opts.Progress(u)
				}
			}
		}()
		ropts = append(ropts, remote.WithProgress(updates))
		defer func() { <-forwarded }()
	}
	if err := remote.Write(r, img, ropts...); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return desc.Digest, nil
	// lab:07 starter:
	// return v1.Hash{}, errors.New("TODO(lab 07): push: remote.Write the image")
	// lab:07 end
}

func remoteRef(ref string, opts Options) (name.Reference, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

func remoteOptions(ctx context.Context, opts Options) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(defaultPlatform(opts.Platform)),
	}
}
