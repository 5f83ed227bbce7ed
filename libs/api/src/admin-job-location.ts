/** Where an admin job is read: the `Location` of its 202, and the `job` member of a 409 `job_running`. */
export function adminJobLocation(jobId: string): string {
  return `/v1/admin/jobs/${jobId}`;
}
