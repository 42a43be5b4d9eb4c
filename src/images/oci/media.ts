/** Media types nimbo meets in OCI layouts and docker archives. */
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerND: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNDGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const INDEX_TYPES: ReadonlySet<string> = new Set([MT.ociIndex, MT.dockerList]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MT.ociManifest, MT.dockerManifest]);
export const CONFIG_TYPES: ReadonlySet<string> = new Set([MT.ociConfig, MT.dockerConfig]);
/** Layer types whose content nimbo sniffs (plain or gzip tar) and hands to umoci as OCI types. */
export const LAYER_TYPES: ReadonlySet<string> = new Set([
  MT.ociLayer, MT.ociLayerGzip, MT.ociLayerND, MT.ociLayerNDGzip, MT.dockerLayer, MT.dockerLayerGzip,
]);

/** The annotation holding an OCI layout's tag. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** The annotation containerd / docker 25+ write with the full image name. */
export const CONTAINERD_NAME = 'io.containerd.image.name';
