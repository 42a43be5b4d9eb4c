/** A container's host id range: container uid/gid N is host id hostId+N, for N < size. */
export interface IdShift {
  hostId: number;
  size: number;
}
