import { ApiProperty } from '@nestjs/swagger';
import { AdminJobDto } from './admin-job.dto.js';

export class AdminJobListDto {
  @ApiProperty({
    type: [AdminJobDto],
    description: 'The running job, if any, then the last 20 finished in this server process; newest first.',
  })
  items!: AdminJobDto[];
}
