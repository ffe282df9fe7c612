package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sys/unix"
)

// Pull fetches the image ref names from its registry (the host part of ref) over the
// registry HTTP API v2 and adds it to the store under ref, returning its manifest digest.
// Credentials come from the Docker config (~/.docker/config.json and its credential
// helpers), as `docker login` left them. Blobs the store already has are not downloaded,
// so a pull that failed half-way resumes with the layers it did not finish. The store
// downloads the layer blobs itself and checks each once, as it checks a blob from anywhere
// (see registryImage). A multi-platform index is resolved to the image for opts.Platform.
//
// Equivalent to: `docker pull REF`.
func (s *Store) Pull(ctx context.Context, ref string, opts Options) (v1.Hash, error) {
	// lab:07 begin: parse ref for the registry (remoteRef), fetch its descriptor (remote.Get with remoteOptions), resolve it to an image (desc.Image) and add that to the store (s.Add) as a registryImage of r's repository, whose layer blobs the store downloads itself
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
	return s.Add(ctx, ref, &registryImage{Image: img, repo: r.Context()}, opts)
	// lab:07 starter:
	// return v1.Hash{}, errors.New("TODO(lab 07): pull: remote.Get the image and s.Add it as a registryImage")
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

// registryImage is an image in a registry whose layer blobs the store downloads itself
// (openBlob) instead of through go-containerregistry's layers. Those hash each blob as it is
// read and fail the last read if it is not its digest; ingest hashes the same bytes again, as
// it must for a blob from anywhere. A pull without unpack spent 58% of its CPU time in
// SHA-256, half of it in the second pass. Of the two checks the store's is the one kept: every
// way into the store (a pull, a load, an import, a build) goes through ingest, so what the
// store promises, that a blob is its digest and that one that is not leaves nothing behind,
// does not depend on where the blob came from or on which client fetched it. The bytes
// openBlob returns are unchecked until ingest has read the last of them.
type registryImage struct {
	v1.Image
	repo name.Repository

	mu     sync.Mutex
	client *http.Client // made by the first openBlob: a pull that has every blob needs none
}

// openBlob starts the download of the blob digest names, GET /v2/REPOSITORY/blobs/DIGEST,
// and returns its body as the registry sends it.
func (i *registryImage) openBlob(ctx context.Context, digest v1.Hash) (io.ReadCloser, error) {
	client, err := i.httpClient(ctx)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: i.repo.Scheme(), Host: i.repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", i.repo.RepositoryStr(), digest)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		// Not the url.Error itself: the registry may have redirected the request to a
		// URL whose query is a signature, which must not end up in a message.
		if urlErr := (*url.Error)(nil); errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("GET %s: %w", u.String(), err)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp.Body, nil
}

// httpClient returns the client of the image's blob downloads, made on the first call: the
// ping of the registry and its authentication, with the credentials `docker login` left (a
// bearer token for pulling from the repository, when the registry asks for one), as
// go-containerregistry did for the manifest.
func (i *registryImage) httpClient(ctx context.Context) (*http.Client, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.client != nil {
		return i.client, nil
	}
	auth, err := authn.DefaultKeychain.Resolve(i.repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", i.repo, err)
	}
	scopes := []string{i.repo.Scope(transport.PullScope)}
	t, err := transport.NewWithContext(ctx, i.repo.Registry, auth, transport.NewRetry(remote.DefaultTransport), scopes)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", i.repo.Registry, err)
	}
	i.client = &http.Client{Transport: t}
	return i.client, nil
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
