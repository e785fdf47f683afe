/**
 * The scope of the SMP admin API (registering and removing ServiceGroups and ServiceMetadata): the network's own,
 * in the style of the MSH's `msh/messages.write`; EHMI names none (EER publishes to the SMP inside the register's
 * operator).
 */
export const SMP_ADMIN_SCOPE = 'smp/publication.write';
