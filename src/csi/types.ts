// Messages of the vendored csi.proto (package csi.v1) as @grpc/proto-loader hands them over with the options in
// grpc.ts: field names as in the proto (snake_case), int64 as decimal strings, enums as their names, defaults filled.
// On requests every field is optional, as in proto3.

export type Int64 = string;
export type StringMap = Record<string, string>;

export interface Topology {
  segments: StringMap;
}
export interface TopologyRequirement {
  requisite?: Topology[];
  preferred?: Topology[];
}
export type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';
export interface VolumeCapability {
  block?: Record<string, never> | null;
  mount?: { fs_type?: string; mount_flags?: string[]; volume_mount_group?: string } | null;
  access_mode?: { mode?: AccessModeName } | null;
  access_type?: 'block' | 'mount';
}
export interface CapacityRange {
  required_bytes?: Int64 | number;
  limit_bytes?: Int64 | number;
}
export interface VolumeContentSource {
  snapshot?: { snapshot_id?: string } | null;
  volume?: { volume_id?: string } | null;
  type?: 'snapshot' | 'volume';
}
export interface Volume {
  capacity_bytes: Int64;
  volume_id: string;
  volume_context: StringMap;
  content_source: VolumeContentSource | null;
  accessible_topology: Topology[];
}
export interface VolumeCondition {
  abnormal: boolean;
  message: string;
}
export interface Snapshot {
  size_bytes: Int64;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: { seconds: Int64; nanos: number } | null;
  ready_to_use: boolean;
  group_snapshot_id: string;
}

// ---- Identity ----
export interface GetPluginInfoResponse {
  name: string;
  vendor_version: string;
  manifest: StringMap;
}
export type PluginCapability =
  | { service: { type: 'UNKNOWN' | 'CONTROLLER_SERVICE' | 'VOLUME_ACCESSIBILITY_CONSTRAINTS' | 'GROUP_CONTROLLER_SERVICE' } }
  | { volume_expansion: { type: 'UNKNOWN' | 'ONLINE' | 'OFFLINE' } };
export interface GetPluginCapabilitiesResponse {
  capabilities: PluginCapability[];
}
export interface ProbeResponse {
  ready: { value: boolean } | null;
}

// ---- Controller ----
export interface CreateVolumeRequest {
  name?: string;
  capacity_range?: CapacityRange | null;
  volume_capabilities?: VolumeCapability[];
  parameters?: StringMap;
  secrets?: StringMap;
  volume_content_source?: VolumeContentSource | null;
  accessibility_requirements?: TopologyRequirement | null;
  mutable_parameters?: StringMap;
}
export interface CreateVolumeResponse {
  volume: Volume;
}
export interface DeleteVolumeRequest {
  volume_id?: string;
  secrets?: StringMap;
}
export interface ValidateVolumeCapabilitiesRequest {
  volume_id?: string;
  volume_context?: StringMap;
  volume_capabilities?: VolumeCapability[];
  parameters?: StringMap;
  secrets?: StringMap;
}
export interface ValidateVolumeCapabilitiesResponse {
  confirmed: { volume_context: StringMap; volume_capabilities: VolumeCapability[]; parameters: StringMap } | null;
  message: string;
}
export interface ListVolumesRequest {
  max_entries?: number;
  starting_token?: string;
}
export interface ListVolumesResponse {
  entries: Array<{ volume: Volume; status: { published_node_ids: string[]; volume_condition: VolumeCondition | null } | null }>;
  next_token: string;
}
export interface ControllerGetVolumeResponse {
  volume: Volume;
  status: { published_node_ids: string[]; volume_condition: VolumeCondition | null };
}
export interface GetCapacityRequest {
  volume_capabilities?: VolumeCapability[];
  parameters?: StringMap;
  accessible_topology?: Topology | null;
}
export interface GetCapacityResponse {
  available_capacity: Int64;
  maximum_volume_size: { value: Int64 } | null;
  minimum_volume_size: { value: Int64 } | null;
}
export type ControllerCapabilityName =
  | 'CREATE_DELETE_VOLUME'
  | 'PUBLISH_UNPUBLISH_VOLUME'
  | 'LIST_VOLUMES'
  | 'GET_CAPACITY'
  | 'CREATE_DELETE_SNAPSHOT'
  | 'LIST_SNAPSHOTS'
  | 'CLONE_VOLUME'
  | 'PUBLISH_READONLY'
  | 'EXPAND_VOLUME'
  | 'LIST_VOLUMES_PUBLISHED_NODES'
  | 'VOLUME_CONDITION'
  | 'GET_VOLUME'
  | 'SINGLE_NODE_MULTI_WRITER'
  | 'MODIFY_VOLUME'
  | 'GET_SNAPSHOT';
export interface ControllerGetCapabilitiesResponse {
  capabilities: Array<{ rpc: { type: ControllerCapabilityName } }>;
}
export interface CreateSnapshotRequest {
  source_volume_id?: string;
  name?: string;
  secrets?: StringMap;
  parameters?: StringMap;
}
export interface CreateSnapshotResponse {
  snapshot: Snapshot;
}
export interface DeleteSnapshotRequest {
  snapshot_id?: string;
  secrets?: StringMap;
}
export interface ListSnapshotsRequest {
  max_entries?: number;
  starting_token?: string;
  source_volume_id?: string;
  snapshot_id?: string;
  secrets?: StringMap;
}
export interface ListSnapshotsResponse {
  entries: Array<{ snapshot: Snapshot }>;
  next_token: string;
}
export interface GetSnapshotRequest {
  snapshot_id?: string;
  secrets?: StringMap;
}
export interface GetSnapshotResponse {
  snapshot: Snapshot;
}
export interface ControllerExpandVolumeRequest {
  volume_id?: string;
  capacity_range?: CapacityRange | null;
  secrets?: StringMap;
  volume_capability?: VolumeCapability | null;
}
export interface ControllerExpandVolumeResponse {
  capacity_bytes: Int64;
  node_expansion_required: boolean;
}

// ---- Node ----
export interface NodePublishVolumeRequest {
  volume_id?: string;
  publish_context?: StringMap;
  staging_target_path?: string;
  target_path?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: StringMap;
  volume_context?: StringMap;
}
export interface NodeUnpublishVolumeRequest {
  volume_id?: string;
  target_path?: string;
}
export interface NodeGetVolumeStatsRequest {
  volume_id?: string;
  volume_path?: string;
  staging_target_path?: string;
}
export interface VolumeUsage {
  available: Int64;
  total: Int64;
  used: Int64;
  unit: 'UNKNOWN' | 'BYTES' | 'INODES';
}
export interface NodeGetVolumeStatsResponse {
  usage: VolumeUsage[];
  volume_condition: VolumeCondition | null;
}
export type NodeCapabilityName =
  | 'STAGE_UNSTAGE_VOLUME'
  | 'GET_VOLUME_STATS'
  | 'EXPAND_VOLUME'
  | 'VOLUME_CONDITION'
  | 'SINGLE_NODE_MULTI_WRITER'
  | 'VOLUME_MOUNT_GROUP';
export interface NodeGetCapabilitiesResponse {
  capabilities: Array<{ rpc: { type: NodeCapabilityName } }>;
}
export interface NodeGetInfoResponse {
  node_id: string;
  max_volumes_per_node: Int64;
  accessible_topology: Topology | null;
}

// Messages Strata neither serves nor sends with structure (stage/unstage, controller publish, modify, group
// snapshots) travel as plain objects.
export type OpaqueMessage = Record<string, unknown>;
type Empty = Record<string, never>;

// One entry per RPC: [request, response]. Drives both the typed client and the server's handler types.
export interface IdentityRpcs {
  GetPluginInfo: [Empty, GetPluginInfoResponse];
  GetPluginCapabilities: [Empty, GetPluginCapabilitiesResponse];
  Probe: [Empty, ProbeResponse];
}
export interface ControllerRpcs {
  CreateVolume: [CreateVolumeRequest, CreateVolumeResponse];
  DeleteVolume: [DeleteVolumeRequest, Empty];
  ControllerPublishVolume: [OpaqueMessage, OpaqueMessage];
  ControllerUnpublishVolume: [OpaqueMessage, OpaqueMessage];
  ValidateVolumeCapabilities: [ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse];
  ListVolumes: [ListVolumesRequest, ListVolumesResponse];
  GetCapacity: [GetCapacityRequest, GetCapacityResponse];
  ControllerGetCapabilities: [Empty, ControllerGetCapabilitiesResponse];
  CreateSnapshot: [CreateSnapshotRequest, CreateSnapshotResponse];
  DeleteSnapshot: [DeleteSnapshotRequest, Empty];
  ListSnapshots: [ListSnapshotsRequest, ListSnapshotsResponse];
  GetSnapshot: [GetSnapshotRequest, GetSnapshotResponse];
  ControllerExpandVolume: [ControllerExpandVolumeRequest, ControllerExpandVolumeResponse];
  ControllerGetVolume: [{ volume_id?: string }, ControllerGetVolumeResponse];
  ControllerModifyVolume: [OpaqueMessage, OpaqueMessage];
}
export interface NodeRpcs {
  NodeStageVolume: [OpaqueMessage, Empty];
  NodeUnstageVolume: [OpaqueMessage, Empty];
  NodePublishVolume: [NodePublishVolumeRequest, Empty];
  NodeUnpublishVolume: [NodeUnpublishVolumeRequest, Empty];
  NodeGetVolumeStats: [NodeGetVolumeStatsRequest, NodeGetVolumeStatsResponse];
  NodeExpandVolume: [OpaqueMessage, OpaqueMessage];
  NodeGetCapabilities: [Empty, NodeGetCapabilitiesResponse];
  NodeGetInfo: [Empty, NodeGetInfoResponse];
}
export interface GroupControllerRpcs {
  GroupControllerGetCapabilities: [Empty, OpaqueMessage];
  CreateVolumeGroupSnapshot: [OpaqueMessage, OpaqueMessage];
  DeleteVolumeGroupSnapshot: [OpaqueMessage, OpaqueMessage];
  GetVolumeGroupSnapshot: [OpaqueMessage, OpaqueMessage];
}

// A service implementation: any subset of its RPCs; the ones left out answer UNIMPLEMENTED.
// Response objects may use numbers where the wire type is int64.
export type ServiceImpl<R> = { [K in keyof R]?: R[K] extends [infer Req, unknown] ? (req: Req) => Promise<object> : never };
