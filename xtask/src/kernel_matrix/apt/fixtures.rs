//! `apt-cache show` output the tests share: trixie-backports' 7.3 meta package and the
//! split packages it leads to.

pub const SHOW_73: &str = "\
Package: linux-image-cloud-amd64
Source: linux-signed-amd64 (7.3.4+1~bpo13+1)
Version: 7.3.4-1~bpo13+1
Architecture: amd64
Depends: linux-base-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-image-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-modules-cloud-amd64 (= 7.3.4-1~bpo13+1)
Description: Linux for x86-64 cloud (meta-package)
 This package depends on the latest Linux kernel
 for x86-64 cloud.

Package: linux-image-7.3.4+deb13-cloud-amd64
Version: 7.3.4-1~bpo13+1
Architecture: amd64
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-binary-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-modules-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)

Package: linux-binary-7.3.4+deb13-cloud-amd64
Version: 7.3.4-1~bpo13+1
Architecture: amd64
Depends: linux-base-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)

Package: linux-base-7.3.4+deb13-cloud-amd64
Version: 7.3.4-1~bpo13+1
Architecture: amd64
";
