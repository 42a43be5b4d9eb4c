// Wire types of image imports from URLs, the image server (GET /image-server/index) and image remotes.
import { Type, type Static } from '@sinclair/typebox';
import { NAME_PATTERN } from './api-constants.js';
import { Arch } from './arch-schema.js';

const strict = { additionalProperties: false } as const;
const label = NAME_PATTERN.replace(/^\^|\$$/g, '');

/** An image reference: NAME, or REMOTE:NAME for an image of a remote image server (fetched into the local cache). */
export const ImageRef = Type.String({ pattern: `^(${label}:)?${label}$`, minLength: 1, maxLength: 127, description: 'an image name, or REMOTE:NAME (an image of an image remote, fetched and cached on launch)' });

/** Body of POST /api/v1/images/import-url. */
export const ImageImportUrl = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63 }),
    url: Type.String({ minLength: 1, maxLength: 4096, description: 'http:// or https:// URL of a qcow2 or raw disk image (no user:password@)' }),
    sha256: Type.Optional(Type.String({ maxLength: 80, description: "the file's sha256 (64 hex digits)" })),
    sha256sums: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: "URL of a SHA256SUMS file whose line for the URL's file name gives the sha256" })),
    arch: Type.Optional(Arch),
  },
  strict,
);
export type ImageImportUrl = Static<typeof ImageImportUrl>;

/** One file of a served image. */
export const ServedFile = Type.Object({ name: Type.String(), size: Type.Integer({ minimum: 0 }), sha256: Type.String() });
export type ServedFile = Static<typeof ServedFile>;

/** One image in an image server's index. */
export const ServedImage = Type.Object({
  name: Type.String(),
  type: Type.String({ description: 'disk (a VM disk image)' }),
  arch: Type.Optional(Type.String()),
  format: Type.String({ description: 'qcow2 or raw' }),
  size: Type.Integer({ description: 'virtual size in bytes' }),
  sha256: Type.String({ description: 'sha256 of the disk file' }),
  updated: Type.String(),
  os: Type.String(),
  boot: Type.Object({ kind: Type.String(), kernel: Type.Optional(Type.String()), initrd: Type.Optional(Type.String()), cmdline: Type.Optional(Type.String()) }),
  readyMarker: Type.Optional(Type.String()),
  files: Type.Array(ServedFile, { maxItems: 8 }),
});
export type ServedImage = Static<typeof ServedImage>;

/** GET /api/v1/image-server/index. */
export const ImageIndex = Type.Object({ images: Type.Array(ServedImage, { maxItems: 10000 }) });
export type ImageIndex = Static<typeof ImageIndex>;

/** An image remote as the API shows it (its token never leaves the daemon). */
export const ImageRemote = Type.Object({ name: Type.String(), url: Type.String(), token: Type.Boolean({ description: 'whether a token is sent to it' }), createdAt: Type.String() });
export type ImageRemote = Static<typeof ImageRemote>;

/** Body of POST /api/v1/image-remotes. */
export const ImageRemoteAdd = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63 }),
    url: Type.String({ minLength: 1, maxLength: 2048, description: "the other daemon's API base URL, e.g. https://host:8443" }),
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'a bearer token of the other daemon (read access to images)' })),
    ca: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: "PEM certificate(s) of the CA to trust for this https remote (e.g. the other daemon's STATE/tls/ca.crt)" })),
  },
  strict,
);
export type ImageRemoteAdd = Static<typeof ImageRemoteAdd>;
