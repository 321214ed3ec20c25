#pragma once

// subPath mounts that a container cannot redirect (the kubelet's CVE-2017-1002101 class).
//
// A subPath names a path inside a volume. A container that can write the volume (an emptyDir, a
// hostPath) can replace that path with a symlink to "/" or "/etc" before the next container of
// the pod starts; handing the runtime "<volume>/<subPath>" as text would then mount the host's
// files into that container. So, like the kubelet (vendor/k8s.io/kubernetes/pkg/volume/util/
// subpath/subpath_linux.go doBindSubPath @ v1.20.0), just before CreateContainer:
//  1. open the subPath relative to an fd of the volume root without following any symlink and
//     without leaving the root: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or one component
//     at a time with O_NOFOLLOW where the kernel lacks openat2 (ENOSYS);
//  2. a missing subPath is created as directories, one mkdirat() at a time under the same
//     rules, with the mode of the volume root (kubelet SafeMakeDir);
//  3. bind-mount the opened fd (/proc/self/fd/N) onto <podDir>/volume-subpaths/<volume>/
//     <container>/<mountIndex> and give the runtime that path: what it mounts is the inode that
//     was checked, whatever the container renames afterwards.
// Stricter than the kubelet: a symlink anywhere in the subPath is refused, even one that stays
// inside the volume (the kubelet resolves those first).
// The staging mounts are removed with the pod (cleanSubPaths, called by removePodDir).
//
// Threading: plain blocking syscalls, no state; call from the blocking pool. Needs
// CAP_SYS_ADMIN (mount) for subPath mounts; without it the container is refused.

#include <optional>
#include <string>
#include <vector>

#include "podplan/pod_plan.h"

namespace edgecore::edged {

// Resolves every mount of `mounts` that has a sub_path and replaces its host_path with the
// staging bind mount. On failure the error the kubelet shows for the container
// (CreateContainerConfigError, `failed to prepare subPath for volumeMount "<v>" of container
// "<c>"`); `detail` (may be null) gets the reason, for the log only: like the kubelet we do not
// tell the pod about the host's filesystem.
std::optional<PlanError> prepareSubPaths(const std::string& pod_dir, const std::string& container,
                                         std::vector<Mount>& mounts, std::string* detail);

// Unmounts and removes everything under <pod_dir>/volume-subpaths. Internal when a staging
// mount cannot be removed (the caller must then not delete the pod directory recursively: it
// would reach into the volume through the mount).
Status cleanSubPaths(const std::string& pod_dir);

// How the subPath is opened; Auto = openat2, component-wise when the kernel lacks it.
enum class SubPathResolve { Auto, ComponentWise };
// Opens `rel` beneath the directory `root_fd` refers to, never following a symlink and never
// leaving it: an O_PATH fd, or -errno (ELOOP for a symlink, EXDEV/ELOOP/EINVAL for an escape,
// ENOENT when missing). Exposed for tests of both paths.
int openBeneath(int root_fd, const std::string& rel, SubPathResolve how);

}  // namespace edgecore::edged
