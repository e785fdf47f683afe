/**
 * The scopes of the registers' admin APIs, which EER's propagation calls: the network's own names, in the style of
 * the MSH's `msh/messages.write`; EHMI names none (EER feeds the SMP and EAS inside the register's operator). Here,
 * outside the roles, because EER asks for them and the SMP and EAS require them.
 */

/** The SMP's admin API: registering and removing ServiceGroups and ServiceMetadata. */
export const SMP_ADMIN_SCOPE = 'smp/publication.write';

/** EAS's admin API: `/admin/organizations/{id}` (EER's feed) and `/admin/patients/{cpr}` (the local CPR → GP table). */
export const EAS_ADMIN_SCOPE = 'eas/index.write';
