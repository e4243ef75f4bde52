package harness

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// ImageProgram unpacks the linux/arch image of the OCI image layout at
// layoutDir (as `make image` writes it: index.json's first entry is the
// multi-arch index) into dir, as a container runtime would (layers applied
// in order, owners and modes kept), and returns the Program that runs its
// entrypoint in that root filesystem.
func ImageProgram(layoutDir, arch, dir string) (Program, error) {
	img, err := layoutImage(layoutDir, arch)
	if err != nil {
		return Program{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Program{}, err
	}
	if len(cf.Config.Entrypoint) == 0 {
		return Program{}, fmt.Errorf("image in %s has no entrypoint", layoutDir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return Program{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Program{}, err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := untar(rc, dir); err != nil {
		return Program{}, fmt.Errorf("unpacking %s: %w", layoutDir, err)
	}
	return Program{Path: cf.Config.Entrypoint[0], Args: cf.Config.Entrypoint[1:], Root: dir, User: cf.Config.User}, nil
}

// layoutImage finds the linux/arch image under the layout's first index.
func layoutImage(layoutDir, arch string) (v1.Image, error) {
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, err
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, err
	}
	tm, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(tm.Manifests) == 0 {
		return nil, fmt.Errorf("%s: empty index.json", layoutDir)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == arch {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("%s: no linux/%s image", layoutDir, arch)
}

// untar writes a flattened image filesystem under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean("/" + h.Name)
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("%s: unsupported tar entry type %q", h.Name, h.Typeflag)
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode)); err != nil {
			return err
		}
	}
}

// modeBits converts tar's setuid/setgid/sticky bits to os.FileMode.
func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

// runAs is the "UID:GID" a container runs as: its securityContext, then
// the pod's, then the image's user.
func runAs(pod *corev1.Pod, c *corev1.Container, image string) string {
	uid, gid, _ := strings.Cut(image, ":")
	if uid == "" {
		uid = "0"
	}
	if gid == "" {
		gid = uid
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = strconv.FormatInt(*sc.RunAsUser, 10)
		}
		if sc.RunAsGroup != nil {
			gid = strconv.FormatInt(*sc.RunAsGroup, 10)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = strconv.FormatInt(*sc.RunAsUser, 10)
		}
		if sc.RunAsGroup != nil {
			gid = strconv.FormatInt(*sc.RunAsGroup, 10)
		}
	}
	return uid + ":" + gid
}

// withUser returns p with the user the container runs as, for images.
func withUser(p Program, pod *corev1.Pod, c *corev1.Container) Program {
	if p.Root != "" {
		p.User = runAs(pod, c, p.User)
	}
	return p
}

// chownTree gives a pod's directory (kubeconfig, volumes) to "UID:GID".
func chownTree(dir, user string) error {
	u, g, _ := strings.Cut(user, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		return fmt.Errorf("user %q: %w", user, err)
	}
	gid, err := strconv.Atoi(g)
	if err != nil {
		return fmt.Errorf("user %q: %w", user, err)
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// rootfsArgv is launchArgv for an unpacked image: in the pod's network
// namespace and a private mount namespace, make the root filesystem
// read-only, bind the volumes (and the pod directory holding the
// kubeconfig, at its own path) inside it, then chroot and run the
// entrypoint as the container's user.
func rootfsArgv(h *Host, p Program, c *corev1.Container, vols map[string]string, vars map[string]string) ([]string, []string, error) {
	var script strings.Builder
	fmt.Fprintf(&script, "set -e\nmount --bind %q %q\nmount -o remount,bind,ro %q\n", p.Root, p.Root, p.Root)
	bind := func(src, target string) error {
		in := filepath.Join(p.Root, target)
		if err := os.MkdirAll(in, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&script, "mount --bind %q %q\n", src, in)
		return nil
	}
	if d := vols["kubeconfig-dir"]; d != "" {
		if err := bind(d, d); err != nil {
			return nil, nil, err
		}
	}
	for _, m := range c.VolumeMounts {
		src, ok := vols[m.Name]
		if !ok {
			return nil, nil, fmt.Errorf("volumeMount %s: no such volume", m.Name)
		}
		if m.SubPath != "" {
			src = filepath.Join(src, m.SubPath)
		}
		if err := bind(src, m.MountPath); err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(&script, "exec chroot --userspec=%s %q \"$@\"\n", p.User, p.Root)
	argv := []string{"ip", "netns", "exec", h.Name, "unshare", "--mount", "--propagation", "private", "sh", "-c", script.String(), "sh", p.Path}
	argv = append(argv, p.Args...)
	for _, a := range c.Args {
		argv = append(argv, expandVars(a, vars))
	}
	return argv, nil, nil
}
