/* The address of a function another file defines (allocation.c): the pass represents
 * it by the same thunk as there, so the two compare equal, as C requires. */
int c_identity(int x);
void* c_identity_elsewhere(void) { return (void*)&c_identity; }
